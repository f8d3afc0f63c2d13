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

/**
 * A norm-statistics file (`mobilestyle bundle --tiles`, export/norm_stats.py): inputs image, norm_stats (1 x K) and
 * use_given (1 x 1), outputs stylized and own_norm_stats. statistics(): pass 1, the picture's own statistics;
 * run(): pass 2, the picture normalised with given statistics. Images are NHWC float32 0..255 like the runners above.
 */
class StatsRunner {
  static async open(model, baseUrl, threads) {
    const url = model.data || new URL(model.file, baseUrl).href;
    const inner = model.format === "onnx" ? await OnnxRunner.open(url, threads) : await LiteRtRunner.open(url, threads, model);
    return new StatsRunner(inner, model);
  }

  constructor(inner, model) {
    this.inner = inner;
    this.model = model;
    this.length = model.norm_stats_length;
    this.label = `${inner.label}, one set of norm statistics`;
  }

  async runBoth(nhwc, side, stats, useGiven) {
    const m = this.model;
    if (m.format === "onnx") {
      const feeds = {
        [m.input_name]: new ort.Tensor("float32", nhwcToNchw(nhwc, side, side), [1, 3, side, side]),
        [m.norm_stats_input]: new ort.Tensor("float32", stats, [1, this.length]),
        [m.use_given_input]: new ort.Tensor("float32", Float32Array.of(useGiven), [1, 1]),
      };
      const results = await this.inner.session.run(feeds);
      const image = nchwToNhwc(results[m.output_name].data, side, side);
      const own = Float32Array.from(results[m.norm_stats_output].data);
      Object.values(results).forEach((t) => t.dispose?.());
      return { image, stats: own };
    }
    const { litert, compiled, signatures } = this.inner;
    const signature = signatures[`${side}x${side}`];
    if (!signature) throw new Error(`this .tflite file has no ${side}x${side} signature`);
    const inputs = {
      [m.input_name]: new litert.Tensor(nhwc, [1, side, side, 3]),
      [m.norm_stats_input]: new litert.Tensor(stats, [1, this.length]),
      [m.use_given_input]: new litert.Tensor(Float32Array.of(useGiven), [1, 1]),
    };
    try {
      const outputs = await compiled.run(signature, inputs);
      const image = Float32Array.from(outputs[m.output_name].toTypedArray());
      const own = Float32Array.from(outputs[m.norm_stats_output].toTypedArray());
      Object.values(outputs).forEach((t) => t.delete());
      return { image, stats: own };
    } finally {
      Object.values(inputs).forEach((t) => t.delete());
    }
  }

  async statistics(nhwc, side) {
    return (await this.runBoth(nhwc, side, new Float32Array(this.length), 0)).stats;
  }

  async run(nhwc, side, stats) {
    return (await this.runBoth(nhwc, side, stats, 1)).image;
  }
}

export const openStatsRunner = (model, baseUrl, threads) => StatsRunner.open(model, baseUrl, threads);

/** Opens a manifest model entry ({file, format, signatures...}) found under `baseUrl`, or its bytes in `model.data`. */
export async function openRunner(model, baseUrl, threads) {
  const url = model.data || new URL(model.file, baseUrl).href;
  if (model.format === "onnx") return OnnxRunner.open(url, threads);
  if (model.format === "tflite") return LiteRtRunner.open(url, threads, model);
  throw new Error(`no browser runtime for ${model.format}`);
}
