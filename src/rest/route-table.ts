import type { HttpRoute } from "./http-rules.js";
import {
  compareSpecificity,
  matchPathTemplate,
  splitRequestPath,
  templateShape,
  type TemplateMatch,
} from "./path-template.js";

/** The outcome of looking up a request: a route, a path that exists for other methods, or nothing. */
export type RouteLookup =
  | { kind: "found"; route: HttpRoute; match: TemplateMatch }
  | { kind: "method-not-allowed"; allow: string[] }
  | { kind: "not-found" };

/** Finds the route for an HTTP method and path among the rules of all served services. */
export interface RouteTable {
  lookup(httpMethod: string, path: string): RouteLookup;
}

/**
 * Builds the table. Two routes with the same method and the same template shape are
 * ambiguous, so that throws at start. Lookup is a linear scan: an API has tens of routes and a
 * match is a few string comparisons, so a trie would buy nothing measurable here.
 */
export function createRouteTable(routes: HttpRoute[]): RouteTable {
  const seen = new Map<string, HttpRoute>();
  for (const route of routes) {
    const key = `${route.httpMethod} ${templateShape(route.template)}`;
    const other = seen.get(key);
    if (other !== undefined) {
      throw new Error(
        `REST routes conflict: ${route.httpMethod} ${route.template.source} (${route.method.parent.typeName}.${route.method.name}) ` +
          `and ${other.template.source} (${other.method.parent.typeName}.${other.method.name})`,
      );
    }
    seen.set(key, route);
  }
  return {
    lookup(httpMethod, path) {
      const requestPath = splitRequestPath(path);
      let best: { route: HttpRoute; match: TemplateMatch } | undefined;
      const allow = new Set<string>();
      for (const route of routes) {
        const match = matchPathTemplate(route.template, requestPath);
        if (match === undefined) continue;
        allow.add(route.httpMethod);
        if (route.httpMethod !== httpMethod) continue;
        if (best === undefined || compareSpecificity(route.template, best.route.template) > 0) best = { route, match };
      }
      if (best !== undefined) return { kind: "found", ...best };
      if (allow.size > 0) return { kind: "method-not-allowed", allow: [...allow].sort() };
      return { kind: "not-found" };
    },
  };
}
