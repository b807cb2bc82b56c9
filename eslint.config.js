// Lint rules that hold the architecture: layers between src/ folders point one way, no import
// cycles, no floating promises, exhaustive switches over string-literal unions. Unused exports
// are found by knip (knip.json, run by `npm run lint` after ESLint), which sees the whole program:
// import-x's no-unused-modules does nothing on ESLint 10.
import tseslint from "typescript-eslint";
import importX from "eslint-plugin-import-x";
import { createTypeScriptImportResolver } from "eslint-import-resolver-typescript";

/**
 * The layers of src/, lowest first. A folder may import from the folders listed before it and
 * never from those after it; `gen/` is below all of them.
 */
const LAYERS = [
  ["model"],
  ["config", "log"],
  ["store"],
  ["rest", "auth"],
  ["hub"],
  ["accounts"],
  ["clouddriver"],
  ["server"],
  ["cli"],
];

/** For each folder, the folders above it: importing from them points the wrong way. */
function layerZones() {
  const zones = [];
  LAYERS.forEach((group, level) => {
    const above = LAYERS.slice(level + 1).flat();
    const siblings = group.length > 1 ? group : [];
    for (const folder of group) {
      const forbidden = [...above, ...siblings.filter((s) => s !== folder)];
      for (const from of forbidden) {
        zones.push({
          target: `./src/${folder}`,
          from: `./src/${from}`,
          message: `src/${folder} is below src/${from} in the layering (README.md, Repository layout); invert the dependency or move the shared piece down.`,
        });
      }
    }
  });
  // The production code never reaches into tests, benchmarks or the simulator.
  zones.push({ target: "./src", from: "./test", message: "production code must not import tests" });
  zones.push({ target: "./src", from: "./tools", message: "the simulator and benchmarks live outside the production build" });
  // They reach the hub only through the wire contract (gen/, the network); shared pure parts
  // (configuration grammar, name rules) are the one exception.
  zones.push({ target: ["./tools", "./bench"], from: "./src", except: ["./config", "./model"], message: "the simulator and benchmarks use the hub only through the wire contract (gen/ and the network)" });
  zones.push({ target: "./src", from: "./bench", message: "the simulator and benchmarks live outside the production build" });
  zones.push({ target: "./gen", from: "./src", message: "generated code depends on nothing of ours" });
  return zones;
}

export default tseslint.config(
  { ignores: ["node_modules/**", "dist/**", "data/**", "gen/**", "test/gen/**", "coverage/**", "test-artifacts/**"] },
  {
    files: ["**/*.ts"],
    languageOptions: {
      parser: tseslint.parser,
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    plugins: { "@typescript-eslint": tseslint.plugin, "import-x": importX },
    settings: {
      "import-x/resolver-next": [createTypeScriptImportResolver({ project: "./tsconfig.json" })],
      // no-cycle reads the imported files itself: with which parser.
      "import-x/parsers": { "@typescript-eslint/parser": [".ts"] },
      "import-x/extensions": [".ts", ".js"],
    },
    rules: {
      "@typescript-eslint/no-floating-promises": "error",
      "@typescript-eslint/no-misused-promises": ["error", { checksVoidReturn: { arguments: false, attributes: false } }],
      "@typescript-eslint/switch-exhaustiveness-check": ["error", { considerDefaultExhaustiveForUnions: true, requireDefaultForNonUnion: false }],
      "@typescript-eslint/no-explicit-any": "error",
      "@typescript-eslint/await-thenable": "error",
      "import-x/no-cycle": ["error", { ignoreExternal: true }],
      "import-x/no-self-import": "error",
      "import-x/no-restricted-paths": ["error", { zones: layerZones() }],
    },
  },
);
