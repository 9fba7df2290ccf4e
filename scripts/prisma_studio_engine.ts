// Prisma 6 Studio builds its client on the "library" runtime, which loads the native query engine even
// when a driver adapter is given, and that engine is only on Prisma's binary host. The same runtime can
// run the WebAssembly query engine shipped in the prisma package (what PRISMA_CLIENT_FORCE_WASM makes
// generated clients do) if its config says where that engine is: add it when Studio loads the runtime.
import Module from "node:module";
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";

type ClientConfig = { activeProvider: string } & Record<string, unknown>;
type Runtime = { getPrismaClient: (config: ClientConfig) => unknown } & Record<string, unknown>;
type Loader = (request: string, parent: unknown, isMain: boolean) => unknown;

const LIBRARY_RUNTIME = /[\\/]prisma-client[\\/]runtime[\\/]library(\.js)?$/;

export function useWasmQueryEngine(): void {
  const modules = Module as unknown as {
    _load: Loader;
    _resolveFilename: (request: string, parent: unknown) => string;
  };
  const load = modules._load;
  modules._load = function (request, parent, isMain) {
    const loaded = load.call(this, request, parent, isMain);
    if (!LIBRARY_RUNTIME.test(request)) return loaded;
    const runtime = loaded as Runtime;
    const runtimeFolder = dirname(modules._resolveFilename(request, parent));
    const wasmFolder = join(runtimeFolder, "..", "..", "build");
    return {
      ...runtime,
      getPrismaClient: (config: ClientConfig) =>
        runtime.getPrismaClient({
          ...config,
          engineWasm: {
            getRuntime: async () => require(join(runtimeFolder, `query_engine_bg.${config.activeProvider}.js`)),
            getQueryEngineWasmModule: async () =>
              new WebAssembly.Module(readFileSync(join(wasmFolder, `query_engine_bg.${config.activeProvider}.wasm`))),
          },
        }),
    };
  };
}
