// The two in-browser runtimes, both offline from node_modules: onnxruntime-web (WASM, SIMD, 1..N threads) for the
// .onnx files and LiteRT.js (XNNPACK in WASM) for the same style's .tflite. Each runner takes and returns an NHWC
// float32 image (0..255) of side x side, like mobilestyle.runtimes on the Python side.
import * as ort from "../node_modules/onnxruntime-web/dist/ort.wasm.min.mjs";
import { nchwToNhwc, nhwcToNchw } from "./pixels.js";

const ORT_WASM_DIR = new URL("../node_modules/onnxruntime-web/dist/", import.meta.url).href;
const LITERT_WASM_DIR = new URL("../node_modules/@litertjs/core/wasm/", import.meta.url).href;

/** Threads need SharedArrayBuffer, i.e. a cross-origin-isolated page (COOP + COEP headers). */
export function maxThreads() {
  return globalThis.crossOriginIsolated ? navigator.hardwareConcurrency || 1 : 1;
}

class OnnxRunner {
  static async open(url, threads) {
    ort.env.wasm.wasmPaths = ORT_WASM_DIR;
    ort.env.wasm.numThreads = threads; // read once, when the WASM backend starts (so: one thread count per page)
    ort.env.wasm.simd = true;
    const session = await ort.InferenceSession.create(url, { executionProviders: ["wasm"], graphOptimizationLevel: "all" });
    return new OnnxRunner(session, threads);
  }

  constructor(session, threads) {
    this.session = session;
    this.label = `onnxruntime-web ${ort.env.versions.web} WASM, ${threads} thread${threads > 1 ? "s" : ""}`;
  }

  async run(nhwc, side) {
    const input = new ort.Tensor("float32", nhwcToNchw(nhwc, side, side), [1, 3, side, side]);
    const results = await this.session.run({ [this.session.inputNames[0]]: input });
    const output = results[this.session.outputNames[0]];
    const nhwcOut = nchwToNhwc(output.data, side, side);
    output.dispose?.();
    return nhwcOut;
  }
}

class LiteRtRunner {
  static async open(url, threads, model) {
    const litert = await import("@litertjs/core");
    if (!LiteRtRunner.loaded) {
      LiteRtRunner.loaded = litert.loadLiteRt(LITERT_WASM_DIR, { threads: threads > 1 });
    }
    await LiteRtRunner.loaded;
    const compiled = await litert.loadAndCompile(url, { accelerator: "wasm", cpuOptions: { numThreads: threads } });
    return new LiteRtRunner(litert, compiled, threads, model);
  }

  constructor(litert, compiled, threads, model) {
    this.litert = litert;
    this.compiled = compiled;
    this.signatures = model.signatures || {};
    this.label = `LiteRT.js WASM (XNNPACK), ${threads} thread${threads > 1 ? "s" : ""}`;
  }

  async run(nhwc, side) {
    const signature = this.signatures[`${side}x${side}`];
    if (!signature) throw new Error(`this .tflite file has no ${side}x${side} signature`);
    const input = new this.litert.Tensor(nhwc, [1, side, side, 3]);
    try {
      const outputs = await this.compiled.run(signature, [input]);
      const data = Float32Array.from(outputs[0].toTypedArray());
      outputs.forEach((t) => t.delete());
      return data;
    } finally {
      input.delete();
    }
  }
}

/** Opens a manifest model entry ({file, format, signatures...}) found under `baseUrl`, or its bytes in `model.data`. */
export async function openRunner(model, baseUrl, threads) {
  const url = model.data || new URL(model.file, baseUrl).href;
  if (model.format === "onnx") return OnnxRunner.open(url, threads);
  if (model.format === "tflite") return LiteRtRunner.open(url, threads, model);
  throw new Error(`no browser runtime for ${model.format}`);
}
