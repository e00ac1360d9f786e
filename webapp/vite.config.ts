// The build writes into the Python package (src/openucwa/web/app), so a wheel and `make run`
// carry the client with no Node at run time. Asset names are lower-case hex hashes: the server
// folds request paths to lower case before routing (CaseFoldPaths).
import { defineConfig } from "vitest/config";
import preact from "@preact/preset-vite";

export default defineConfig({
  plugins: [preact()],
  base: "/app/",
  build: {
    outDir: "../src/openucwa/web/app",
    emptyOutDir: true,
    target: "es2020",
    modulePreload: { polyfill: false },
    rollupOptions: {
      output: {
        hashCharacters: "hex",
        entryFileNames: "assets/[name]-[hash].js",
        chunkFileNames: "assets/[name]-[hash].js",
        assetFileNames: "assets/[name]-[hash][extname]",
      },
    },
  },
  test: {
    include: ["ucwa/**/*.test.ts"],
    environment: "node",
  },
});
