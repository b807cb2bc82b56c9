import { create, fromBinary, toBinary, type DescFile, type DescService, type MessageInitShape } from "@bufbuild/protobuf";
import { nestedTypes } from "@bufbuild/protobuf/reflect";
import { FileDescriptorProtoSchema } from "@bufbuild/protobuf/wkt";
import { Code, type ServiceImpl } from "@connectrpc/connect";
import {
  ServerReflection,
  ServerReflectionRequestSchema,
  ServerReflectionResponseSchema,
  type ServerReflectionRequest,
  type ServerReflectionResponse,
} from "../../gen/grpc/reflection/v1/reflection_pb.js";
import {
  ServerReflection as ServerReflectionAlpha,
  ServerReflectionRequestSchema as AlphaRequestSchema,
  ServerReflectionResponseSchema as AlphaResponseSchema,
} from "../../gen/grpc/reflection/v1alpha/reflection_pb.js";

/** Both reflection services, to be served next to `services`. */
export interface Reflection {
  v1: ServiceImpl<typeof ServerReflection>;
  v1alpha: ServiceImpl<typeof ServerReflectionAlpha>;
  /** The reflection services' descriptors, for `router.service`. */
  descriptors: { v1: typeof ServerReflection; v1alpha: typeof ServerReflectionAlpha };
}

/** Every file the services are declared in, and the files they import, transitively. */
function filesOf(services: readonly DescService[]): Map<string, DescFile> {
  const files = new Map<string, DescFile>();
  const visit = (file: DescFile) => {
    if (files.has(file.proto.name)) return;
    files.set(file.proto.name, file);
    for (const dep of file.dependencies) visit(dep);
  };
  for (const s of services) visit(s.file);
  return files;
}

/** Fully qualified name → declaring file, for every type, service, method, field and enum value. */
function symbolsOf(files: Iterable<DescFile>): Map<string, DescFile> {
  const symbols = new Map<string, DescFile>();
  for (const file of files) {
    for (const t of nestedTypes(file)) {
      symbols.set(t.typeName, file);
      if (t.kind === "service") for (const m of t.methods) symbols.set(`${t.typeName}.${m.name}`, file);
      else if (t.kind === "message") for (const f of t.fields) symbols.set(`${t.typeName}.${f.name}`, file);
      else if (t.kind === "enum") for (const v of t.values) symbols.set(`${t.typeName}.${v.name}`, file);
    }
  }
  return symbols;
}

/**
 * gRPC server reflection (`grpc.reflection.v1` and `v1alpha`) answered from the generated file
 * descriptors of the services served on a listener: list_services, file_by_filename,
 * file_containing_symbol (with every file the answer imports, so that a client can decode it)
 * and the extension queries. The two versions share one wire format, so v1alpha is v1 re-read.
 */
export function createReflection(services: readonly DescService[]): Reflection {
  const served = [...services, ServerReflection, ServerReflectionAlpha];
  const files = filesOf(served);
  const symbols = symbolsOf(files.values());
  const serialized = new Map([...files].map(([name, f]) => [name, toBinary(FileDescriptorProtoSchema, f.proto)]));
  const extensions = [...files.values()].flatMap((f) => [...nestedTypes(f)].filter((t) => t.kind === "extension"));

  /** The file and its imports, the file first. */
  function withDependencies(file: DescFile): Uint8Array[] {
    const out: DescFile[] = [];
    const seen = new Set<string>();
    const visit = (f: DescFile) => {
      if (seen.has(f.proto.name)) return;
      seen.add(f.proto.name);
      out.push(f);
      for (const dep of f.dependencies) visit(dep);
    };
    visit(file);
    return out.map((f) => serialized.get(f.proto.name) ?? toBinary(FileDescriptorProtoSchema, f.proto));
  }

  function answer(req: ServerReflectionRequest): ServerReflectionResponse {
    const respond = (messageResponse: MessageInitShape<typeof ServerReflectionResponseSchema>["messageResponse"]) =>
      create(ServerReflectionResponseSchema, { validHost: req.host, originalRequest: req, messageResponse });
    const notFound = (what: string) => respond({ case: "errorResponse", value: { errorCode: Code.NotFound, errorMessage: `${what} not found` } });
    const fileAnswer = (file: DescFile | undefined, what: string) =>
      file === undefined ? notFound(what) : respond({ case: "fileDescriptorResponse", value: { fileDescriptorProto: withDependencies(file) } });
    const r = req.messageRequest;
    switch (r.case) {
      case "listServices":
        return respond({ case: "listServicesResponse", value: { service: served.map((s) => ({ name: s.typeName })) } });
      case "fileByFilename":
        return fileAnswer(files.get(r.value), `file ${r.value}`);
      case "fileContainingSymbol":
        return fileAnswer(symbols.get(r.value.replace(/^\./, "")), `symbol ${r.value}`);
      case "fileContainingExtension": {
        const ext = extensions.find((e) => e.extendee.typeName === r.value.containingType && e.number === r.value.extensionNumber);
        return fileAnswer(ext?.file, `extension ${r.value.extensionNumber} of ${r.value.containingType}`);
      }
      case "allExtensionNumbersOfType": {
        if (!symbols.has(r.value)) return notFound(`type ${r.value}`);
        const numbers = extensions.filter((e) => e.extendee.typeName === r.value).map((e) => e.number);
        return respond({ case: "allExtensionNumbersResponse", value: { baseTypeName: r.value, extensionNumber: numbers } });
      }
      default:
        return respond({ case: "errorResponse", value: { errorCode: Code.InvalidArgument, errorMessage: "no request in message_request" } });
    }
  }

  return {
    v1: {
      async *serverReflectionInfo(requests) {
        for await (const req of requests) yield answer(req);
      },
    },
    v1alpha: {
      async *serverReflectionInfo(requests) {
        for await (const req of requests) {
          const res = answer(fromBinary(ServerReflectionRequestSchema, toBinary(AlphaRequestSchema, req)));
          yield fromBinary(AlphaResponseSchema, toBinary(ServerReflectionResponseSchema, res));
        }
      },
    },
    descriptors: { v1: ServerReflection, v1alpha: ServerReflectionAlpha },
  };
}
