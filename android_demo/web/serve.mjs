// Static server for the browser demo. Sends COOP/COEP so the page is cross-origin isolated: WASM threads need
// SharedArrayBuffer. `node serve.mjs [--port 8000] [--models DIR]` then open http://localhost:8000/
import { createReadStream, promises as fs } from "node:fs";
import http from "node:http";
import path from "node:path";
import { fileURLToPath } from "node:url";

const HERE = path.dirname(fileURLToPath(import.meta.url));
const TYPES = {
  ".html": "text/html; charset=utf-8", ".js": "text/javascript", ".mjs": "text/javascript", ".css": "text/css",
  ".json": "application/json", ".wasm": "application/wasm", ".onnx": "application/octet-stream",
  ".tflite": "application/octet-stream", ".jpg": "image/jpeg", ".png": "image/png", ".map": "application/json",
};

/** Resolves a URL path under `root`, or null when it would leave it. */
function under(root, urlPath) {
  const target = path.resolve(root, "." + path.posix.normalize("/" + urlPath));
  return target === root || target.startsWith(root + path.sep) ? target : null;
}

export function startServer({ root = HERE, models = path.join(HERE, "models"), port = 0, host = "127.0.0.1" } = {}) {
  const webRoot = path.resolve(root);
  const modelsRoot = path.resolve(models);
  const server = http.createServer(async (request, response) => {
    const urlPath = decodeURIComponent(new URL(request.url, "http://x").pathname);
    const file = urlPath.startsWith("/models/") ? under(modelsRoot, urlPath.slice("/models/".length)) : under(webRoot, urlPath === "/" ? "index.html" : urlPath);
    const headers = {
      "Cross-Origin-Opener-Policy": "same-origin",
      "Cross-Origin-Embedder-Policy": "require-corp",
      "Cross-Origin-Resource-Policy": "same-origin",
      "Cache-Control": "no-store",
    };
    try {
      if (!file || !(await fs.stat(file)).isFile()) throw new Error("not found");
      response.writeHead(200, { ...headers, "Content-Type": TYPES[path.extname(file)] || "application/octet-stream" });
      createReadStream(file).pipe(response);
    } catch {
      response.writeHead(404, { ...headers, "Content-Type": "text/plain" });
      response.end("not found\n");
    }
  });
  return new Promise((resolve) => {
    server.listen(port, host, () => {
      const { port: bound } = server.address();
      resolve({ url: `http://${host}:${bound}/`, close: () => new Promise((done) => server.close(done)) });
    });
  });
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2);
  const option = (name, fallback) => (args.includes(name) ? args[args.indexOf(name) + 1] : fallback);
  const { url } = await startServer({ port: Number(option("--port", 8000)), models: option("--models", path.join(HERE, "models")) });
  console.log(`browser demo at ${url} (COOP/COEP set: WASM threads available)`);
}
