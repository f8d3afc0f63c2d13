// The browser demo: pick a style from models/manifest.json (written by `mobilestyle bundle --web`), upload a photo,
// see it stylized with the measured latency. URL parameters: style, runtime (onnx|tflite), threads, size, models,
// service (a `mobilestyle serve` URL: "your own style" uploads a picture there and runs the model it returns),
// tiles=1 (the whole photo in tiles of the model's side instead of the centre crop), mix=PARTNER:SHARE (start on the
// bundled mix of the style with PARTNER nearest to SHARE; `mobilestyle bundle --mix-steps N` bundles the ladders).
// window.demo exposes the last input/output and a benchmark for the end-to-end test (e2e.mjs).
import { centerCropSquare } from "./src/pil-resize.js";
import { blend, keepDetail, lumaDetail, preserveColors, rgbToRgba, rgbaToRgb, tensorToRgb, toNhwc } from "./src/pixels.js";
import { ladder, nearest, partners, pickable } from "./src/mixes.js";
import { maxThreads, openRunner, openStatsRunner } from "./src/runtimes.js";
import { runTiled, runWindows, statsTileRunner } from "./src/tiles.js";

const params = new URLSearchParams(location.search);
const modelsUrl = new URL(params.get("models") || "models/", location.href);
const $ = (id) => document.getElementById(id);
const state = { manifest: null, primary: null, ladder: [], runners: new Map(), style: null, runner: null, side: Number(params.get("size") || 256), input: null, detail: null, output: null, shown: null, lastMs: null, tiled: false, width: 0, height: 0 };

function setStatus(kind, text) {
  $("status").dataset.state = kind;
  $("status").textContent = text;
}

function draw(canvas, rgb, width, height) {
  canvas.width = width;
  canvas.height = height;
  canvas.getContext("2d").putImageData(new ImageData(rgbToRgba(rgb), width, height), 0, 0);
}

function chosenModel() {
  const wanted = $("runtime").value;
  return state.style.models.find((m) => m.format === wanted);
}

function modelSide(model) {
  if (!Array.isArray(model.sizes)) return state.side; // dynamic ONNX: the page's size
  const squares = model.sizes.filter(([h, w]) => h === w).map(([h]) => h);
  return squares.includes(state.side) ? state.side : squares[0];
}

function reloadWith(changes) {
  const next = new URLSearchParams(location.search);
  for (const [key, value] of Object.entries(changes)) next.set(key, value);
  location.search = next.toString(); // thread count is fixed when a WASM runtime starts: reload
}

async function openStyle() {
  const model = chosenModel();
  if (!model) {
    setStatus("error", `style ${state.style.name} has no ${$("runtime").value} model`);
    return;
  }
  setStatus("loading", `loading ${model.file}…`);
  $("thumbnail").src = new URL(state.style.thumbnail, modelsUrl).href;
  if (state.style.id && !model.data) model.data = await download(model);
  const style = state.style;
  const key = `${style.id || style.name}.${model.format}`; // mix slider: each ladder point compiles once
  if (!state.runners.has(key)) state.runners.set(key, await openRunner(model, modelsUrl, Number($("threads").value)));
  if (state.style !== style) return; // the slider moved on while this one loaded
  state.runner = state.runners.get(key);
  state.side = modelSide(model);
  setStatus("ready", `ready: ${model.file} (${model.precision}, ${(model.bytes / 1024).toFixed(0)} KiB)`);
  if (state.photo) await stylize();
}

/** A file the service built, checked against the sha256 it announced. */
async function download(model) {
  const response = await fetch(model.file);
  if (!response.ok) throw new Error(`${model.file}: HTTP ${response.status}`);
  const data = new Uint8Array(await response.arrayBuffer());
  const digest = Array.from(new Uint8Array(await crypto.subtle.digest("SHA-256", data)), (b) => b.toString(16).padStart(2, "0")).join("");
  if (digest !== model.sha256) throw new Error(`${model.file}: sha256 ${digest} is not the announced ${model.sha256}`);
  return data;
}

/** "Your own style": POST the picture to the service's /v1/models, then run the model it returns in this page. */
async function uploadStyle(file) {
  const service = $("service").value.trim().replace(/\/+$/, "");
  if (!service) throw new Error(`give a service URL: mobilestyle serve --cors-origin ${location.origin}`);
  state.runner = null;
  state.primary = null;
  $("mix-controls").hidden = true; // mixes are bundled between bundled styles
  setStatus("loading", `building a model for ${file.name} on ${service}…`);
  const form = new FormData();
  form.append("style", file);
  form.append("formats", "onnx,tflite");
  form.append("size", String(state.side));
  const response = await fetch(`${service}/v1/models`, { method: "POST", body: form });
  const body = await response.json();
  if (!response.ok) throw new Error(`${service}: ${body.error?.message || `HTTP ${response.status}`}`);
  const models = body.files.map((f) => ({
    ...f,
    file: f.url,
    signatures: Array.isArray(f.sizes) ? Object.fromEntries(f.sizes.map(([h, w]) => [`${h}x${w}`, `size_${h}x${w}`])) : {},
  }));
  state.style = { name: `your style ${body.id.slice(0, 8)}`, id: body.id, thumbnail: URL.createObjectURL(file), models };
  await openStyle();
}

/** The mix controls for the picked style: its partners, and the ladder of bundled mixes with the chosen one. */
function setUpMix(partnerWanted, shareWanted) {
  const styles = state.manifest.styles;
  const others = state.primary ? partners(styles, state.primary.name) : [];
  $("mix-controls").hidden = others.length === 0;
  $("mix-with").replaceChildren(...others.map((name) => new Option(name, name)));
  if (!others.length) return;
  $("mix-with").value = others.includes(partnerWanted) ? partnerWanted : others[0];
  state.ladder = ladder(styles, state.primary.name, $("mix-with").value);
  $("mix").max = String(state.ladder.length - 1);
  $("mix").value = String(nearest(state.ladder, shareWanted));
  showMixPoint();
}

/** The ladder point under the slider becomes the running style (the picker keeps the picked style). */
function showMixPoint() {
  const point = state.ladder[Number($("mix").value)];
  $("mix-value").textContent = `${Math.round(point.share * 100)}% ${$("mix-with").value}`;
  state.style = state.manifest.styles.find((s) => s.name === point.style);
}

async function readPhoto(file) {
  const bitmap = await createImageBitmap(file, { imageOrientation: "from-image", colorSpaceConversion: "none", premultiplyAlpha: "none" });
  const canvas = new OffscreenCanvas(bitmap.width, bitmap.height);
  const context = canvas.getContext("2d", { colorSpace: "srgb" });
  context.drawImage(bitmap, 0, 0);
  const { data } = context.getImageData(0, 0, bitmap.width, bitmap.height, { colorSpace: "srgb" });
  return { rgb: rgbaToRgb(data), width: bitmap.width, height: bitmap.height };
}

/** The style's norm-statistics file for the chosen runtime (`mobilestyle bundle --tiles`), opened once; or null. */
async function statsRunnerFor(style) {
  const entry = (style.tiles || []).find((m) => m.format === $("runtime").value);
  if (!entry) return null;
  const key = `${style.name}.tiles.${entry.format}`;
  if (!state.runners.has(key)) state.runners.set(key, await openStatsRunner(entry, modelsUrl, Number($("threads").value)));
  return state.runners.get(key);
}

async function runOnce() {
  if (!state.tiled) return state.runner.run(toNhwc(state.input), state.side);
  const statsRunner = await statsRunnerFor(state.style);
  state.tileStats = Boolean(statsRunner);
  const { input, width, height, side } = { input: state.input, width: state.width, height: state.height, side: state.side };
  if (!statsRunner) return runTiled((nhwc) => state.runner.run(nhwc, side), input, width, height, side);
  return runWindows(await statsTileRunner(statsRunner, input, width, height, side), input, width, height, side);
}

async function stylize() {
  const side = state.side;
  const { rgb, width, height } = state.photo;
  state.tiled = $("tiles").checked && Math.min(width, height) >= side;
  state.input = state.tiled ? rgb : centerCropSquare(rgb, width, height, side);
  state.detail = null; // the photo's luma detail (keep detail), computed when first asked for
  [state.width, state.height] = state.tiled ? [width, height] : [side, side];
  draw($("input"), state.input, state.width, state.height);
  setStatus("running", "running…");
  const started = performance.now();
  state.output = await runOnce();
  state.lastMs = performance.now() - started;
  state.ranStyle = state.style.name;
  showResult();
  const tiles = state.tiled ? ` in ${side}² tiles${state.tileStats ? " (one set of norm statistics)" : " (each tile its own statistics)"}` : "";
  const shape = `${state.width}×${state.height}${tiles}`;
  $("latency").textContent = `${state.style.name} · ${shape} · ${state.lastMs.toFixed(1)} ms (first run) · ${state.runner.label}`;
  $("bench").disabled = false;
  setStatus("done", "done");
}

function showResult() {
  if (!state.output || state.output.length !== state.input.length) return; // a new photo (or tiles) is running
  const strength = Number($("strength").value) / 100;
  $("strength-value").textContent = `${$("strength").value}%`;
  const detail = Number($("keep-detail").value);
  $("keep-detail-value").textContent = detail > 0 ? detail.toFixed(2) : "off";
  // On the whole (stitched) output, as `stylize --keep-detail A --preserve-colors`: detail first, then colours
  // (PreserveColors(KeepDetail(net))), then the strength blend. 0 is off (the output untouched).
  let stylized = state.output;
  if (detail > 0) {
    state.detail ||= lumaDetail(state.input, state.height, state.width);
    stylized = keepDetail(state.input, stylized, state.height, state.width, detail, state.detail);
  }
  if ($("keep-colors").checked) stylized = preserveColors(state.input, stylized);
  state.shown = blend(state.input, tensorToRgb(stylized), strength);
  draw($("output"), state.shown, state.width, state.height);
}

function base64(bytes) {
  let text = "";
  for (let i = 0; i < bytes.length; i += 0x8000) text += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(text);
}

async function benchmark(runs) {
  await runOnce(); // warm-up
  const times = [];
  for (let i = 0; i < runs; i++) {
    const started = performance.now();
    await runOnce();
    times.push(performance.now() - started);
  }
  times.sort((a, b) => a - b);
  return { runs, median_ms: times[Math.floor(runs / 2)], min_ms: times[0], label: state.runner.label };
}

async function main() {
  const threads = Math.min(Number(params.get("threads") || 1), maxThreads());
  for (let n = 1; n <= Math.max(2, maxThreads()); n *= 2) $("threads").add(new Option(String(n), String(n), false, n === threads));
  if (params.get("runtime")) $("runtime").value = params.get("runtime");
  $("service").value = params.get("service") || "";
  const response = await fetch(new URL("manifest.json", modelsUrl));
  const bundled = "run mobilestyle bundle STYLE.jpg --web android_demo/web, or give ?service=";
  if (!response.ok && !$("service").value) throw new Error(`no models/manifest.json (${response.status}): ${bundled}`);
  state.manifest = response.ok ? await response.json() : { styles: [] };
  if (!state.manifest.styles.length && !$("service").value) throw new Error(`the manifest lists no style: ${bundled}`);
  const names = pickable(state.manifest.styles);
  for (const name of names) $("style").add(new Option(name, name));
  $("style").value = names.includes(params.get("style")) ? params.get("style") : names[0] || "";
  state.primary = state.manifest.styles.find((s) => s.name === $("style").value) || null;
  state.style = state.primary;
  const [mixPartner, mixShare] = (params.get("mix") || "").split(":");
  setUpMix(mixPartner, Number(mixShare || 0));

  $("style").addEventListener("change", () => reloadWith({ style: $("style").value }));
  $("runtime").addEventListener("change", () => reloadWith({ runtime: $("runtime").value }));
  $("threads").addEventListener("change", () => reloadWith({ threads: $("threads").value }));
  $("strength").addEventListener("input", showResult);
  const openMixPoint = () => {
    showMixPoint();
    openStyle().catch((error) => setStatus("error", String(error.message || error)));
  };
  $("mix").addEventListener("input", openMixPoint);
  $("mix-with").addEventListener("change", () => {
    setUpMix($("mix-with").value, Number($("mix").value) / Number($("mix").max));
    openMixPoint();
  });
  $("keep-colors").addEventListener("change", showResult);
  $("keep-detail").addEventListener("input", showResult);
  $("tiles").checked = params.get("tiles") === "1";
  $("tiles").addEventListener("change", () => state.photo && state.runner && stylize());
  $("style-file").addEventListener("change", () => uploadStyle($("style-file").files[0]).catch((error) => setStatus("error", String(error.message || error))));
  $("bench").addEventListener("click", async () => {
    $("bench").disabled = true;
    const result = await benchmark(10);
    $("latency").textContent = `${state.style.name} · ${state.width}×${state.height} · median ${result.median_ms.toFixed(1)} ms, best ${result.min_ms.toFixed(1)} ms of 10 · ${result.label}`;
    $("bench").disabled = false;
  });
  $("photo").addEventListener("change", async () => {
    try {
      state.photo = await readPhoto($("photo").files[0]);
      if (state.runner) await stylize();
      else setStatus("ready", "photo read: now pick or upload a style");
    } catch (error) {
      setStatus("error", String(error));
    }
  });
  if (state.style) await openStyle();
  else setStatus("ready", "ready: upload a style picture to the service");
}

window.demo = {
  state,
  ready: main().catch((error) => {
    setStatus("error", String(error.message || error));
    throw error;
  }),
  inputBase64: () => base64(state.input),
  shownBase64: () => base64(state.shown),
  outputBase64: () => base64(new Uint8Array(state.output.buffer, state.output.byteOffset, state.output.byteLength)),
  benchmark,
  crossOriginIsolated: globalThis.crossOriginIsolated,
};
