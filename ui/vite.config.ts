import { defineConfig } from "vite";

// The API serves the build at /ui/static/ (see api/supertest_api/ui); everything is bundled, nothing is
// fetched from another host at run time. JSX is compiled by esbuild for Preact (tsconfig jsxImportSource),
// so no framework plugin is needed.
export default defineConfig({
  base: "/ui/static/",
  build: {
    target: "es2022",
    // CodeMirror is most of the bundle (~500 kB, ~170 kB gzipped) and is needed on the first page anyway.
    chunkSizeWarningLimit: 800,
    sourcemap: false,
    // One editor chunk for CodeMirror, kept apart so the rest of the app stays small and cacheable.
    rollupOptions: {
      output: {
        manualChunks: (id) => (id.includes("node_modules/@codemirror") || id.includes("node_modules/@lezer") ? "editor" : undefined),
      },
    },
  },
});
