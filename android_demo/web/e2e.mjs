// End-to-end check of the browser demo in headless Chromium (Debian's, driven by playwright-core): for each runtime
// and thread count, load the page, upload a photo, wait for the result, read back the page's input crop and model
// output, and time the model. Writes OUT/result.json and OUT/screenshot.png; tests/test_demo_web.py compares the
// numbers with the Python runtimes. With --service URL --style-image PICTURE, each page first uploads the picture to
// that `mobilestyle serve` ("your own style") and runs the model it returns. Every run also reads back the shown
// picture with "keep the photo's colours" on, and with "keep detail" at 0.5 (alone and with the colours) and back at
// 0 (off: the plain picture again). With --mix PARTNER:SHARE each page then picks PARTNER in "Mix with", moves
// the mix slider to the ladder point nearest SHARE and reads back that bundled mix's output. Usage:
//   node e2e.mjs --models DIR --photo PHOTO.png --out DIR [--style NAME] [--runtimes onnx,tflite] [--threads 1,2] [--runs 5]
//                [--service URL --style-image PICTURE] [--port N] [--tiles]   (--tiles: the whole photo in tiles)
//                [--mix PARTNER:SHARE]
import { promises as fs } from "node:fs";
import path from "node:path";
import { chromium } from "playwright-core";
import { startServer } from "./serve.mjs";

const args = process.argv.slice(2);
const option = (name, fallback) => (args.includes(name) ? args[args.indexOf(name) + 1] : fallback);
const models = path.resolve(option("--models", "models"));
const photo = path.resolve(option("--photo", ""));
const out = path.resolve(option("--out", "e2e-out"));
const style = option("--style", "");
const runtimes = option("--runtimes", "onnx,tflite").split(",");
const threadCounts = option("--threads", "1,2").split(",").map(Number);
const runs = Number(option("--runs", 5));
const size = Number(option("--size", 256));
const chromiumPath = option("--chromium", process.env.CHROMIUM || "/usr/bin/chromium");
const timeout = Number(option("--timeout-ms", 60000));
const service = option("--service", "");
const styleImage = service ? path.resolve(option("--style-image", "")) : "";
const port = Number(option("--port", 0));
const tiles = args.includes("--tiles");
const mix = option("--mix", "");

const FLAGS = ["--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
  "--disable-component-update", "--disable-sync"];

async function runOne(browser, baseUrl, runtime, threads, screenshot) {
  const context = await browser.newContext({ viewport: { width: 900, height: 640 } });
  const page = await context.newPage();
  const logs = [];
  page.on("console", (message) => logs.push(`${message.type()}: ${message.text()}`));
  page.on("pageerror", (error) => logs.push(`pageerror: ${error.message}`));
  const query = new URLSearchParams({ runtime, threads: String(threads), size: String(size), ...(style ? { style } : {}), ...(service ? { service } : {}), ...(tiles ? { tiles: "1" } : {}) });
  const record = { runtime, threads, ok: false, logs };
  try {
    await page.goto(`${baseUrl}?${query}`, { timeout });
    await page.waitForFunction(() => window.demo && ["ready", "error"].includes(document.getElementById("status").dataset.state), null, { timeout });
    const status = await page.locator("#status").textContent();
    if ((await page.locator("#status").getAttribute("data-state")) === "error") throw new Error(status);
    if (service) {
      await page.setInputFiles("#style-file", styleImage);
      await page.waitForFunction(() => window.demo.state.style?.id && window.demo.state.runner || document.getElementById("status").dataset.state === "error", null, { timeout });
      if ((await page.locator("#status").getAttribute("data-state")) === "error") throw new Error(await page.locator("#status").textContent());
      record.model_id = await page.evaluate(() => window.demo.state.style.id);
    }
    await page.setInputFiles("#photo", photo);
    await page.waitForFunction(() => ["done", "error"].includes(document.getElementById("status").dataset.state), null, { timeout });
    if ((await page.locator("#status").getAttribute("data-state")) === "error") throw new Error(await page.locator("#status").textContent());
    Object.assign(record, await page.evaluate(async (n) => ({
      cross_origin_isolated: window.demo.crossOriginIsolated,
      side: window.demo.state.side,
      width: window.demo.state.width,
      height: window.demo.state.height,
      tiled: window.demo.state.tiled,
      tile_stats: Boolean(window.demo.state.tileStats),
      input_rgb_b64: window.demo.inputBase64(),
      output_nhwc_f32_b64: window.demo.outputBase64(),
      first_run_ms: window.demo.state.lastMs,
      benchmark: await window.demo.benchmark(n),
      latency_text: document.getElementById("latency").textContent,
    }), runs));
    record.shown_rgb_b64 = await page.evaluate(() => window.demo.shownBase64());
    await page.check("#keep-colors");
    record.kept_colors_rgb_b64 = await page.evaluate(() => window.demo.shownBase64());
    Object.assign(record, await keepDetailPictures(page, "0.5"));
    if (mix) {
      await page.uncheck("#keep-colors");
      record.mix = await moveMixSlider(page, ...mix.split(":"));
    }
    if (screenshot) await page.screenshot({ path: screenshot, fullPage: true }); // with --mix: the mix on screen
    record.ok = true;
  } catch (error) {
    record.error = String(error.message || error).split("\n")[0];
  } finally {
    await context.close();
  }
  return record;
}

/** The shown picture with the "Keep detail" slider at `amount`, alone and with keep-colours (on when called), then
 *  with the slider back at 0 and keep-colours off (the plain picture again). */
async function keepDetailPictures(page, amount) {
  const shown = () => page.evaluate(() => window.demo.shownBase64());
  const pictures = { keep_detail: Number(amount) };
  await page.locator("#keep-detail").fill(amount);
  pictures.detail_colors_label = await page.locator("#keep-detail-value").textContent();
  pictures.detail_colors_rgb_b64 = await shown();
  await page.uncheck("#keep-colors");
  pictures.kept_detail_rgb_b64 = await shown();
  await page.locator("#keep-detail").fill("0");
  pictures.detail_off_label = await page.locator("#keep-detail-value").textContent();
  pictures.detail_off_rgb_b64 = await shown();
  return pictures;
}

/** Pick the partner, slide to the ladder point nearest `share`, wait for that mix's output and read it back. */
async function moveMixSlider(page, partner, share) {
  if (await page.locator("#mix-controls").isHidden()) throw new Error("no mix controls: bundle with --mix-steps");
  await page.selectOption("#mix-with", partner);
  const target = await page.evaluate((wanted) => {
    const points = window.demo.state.ladder;
    const index = points.reduce((best, p, i) => (Math.abs(p.share - wanted) < Math.abs(points[best].share - wanted) ? i : best), 0);
    return { index, ...points[index], ladder: points };
  }, Number(share));
  await page.locator("#mix").fill(String(target.index));
  await page.waitForFunction((name) => window.demo.state.ranStyle === name && ["done", "error"].includes(document.getElementById("status").dataset.state), target.style, { timeout });
  if ((await page.locator("#status").getAttribute("data-state")) === "error") throw new Error(await page.locator("#status").textContent());
  return { ...target, label: await page.locator("#mix-value").textContent(), output_nhwc_f32_b64: await page.evaluate(() => window.demo.outputBase64()) };
}

async function main() {
  await fs.mkdir(out, { recursive: true });
  const server = await startServer({ models, port });
  // playwright gives every launch a fresh temporary profile (its own --user-data-dir), removed on close.
  const browser = await chromium.launch({ executablePath: chromiumPath, headless: true, args: FLAGS });
  const version = browser.version();
  const results = [];
  try {
    for (const runtime of runtimes) {
      for (const threads of threadCounts) {
        const screenshot = results.length === 0 ? path.join(out, "screenshot.png") : null;
        const record = await runOne(browser, server.url, runtime, threads, screenshot);
        console.log(`${runtime} ${threads} thread(s): ${record.ok ? `median ${record.benchmark.median_ms.toFixed(1)} ms` : record.error}`);
        results.push(record);
      }
    }
  } finally {
    await browser.close();
    await server.close();
  }
  const summary = { chromium: version, runs, size, results };
  await fs.writeFile(path.join(out, "result.json"), JSON.stringify(summary, null, 1));
  process.exitCode = results.every((r) => r.ok) ? 0 : 1;
}

await main();
