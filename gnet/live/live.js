// gnet live view: follows a training run through Server-Sent Events (/events),
// or by polling /state if the stream cannot open, and draws every chart on
// canvases itself (no libraries, nothing loaded from elsewhere).
"use strict";

const S = { run: {}, status: "connecting", progress: {}, ticks: [], epochs: [], final: null };
const $ = (id) => document.getElementById(id);
let pending = false;
let polling = null;

// ------------------------------------------------------------------ data in

function applySnapshot(snap) {
  S.run = snap.run || {};
  S.status = snap.status;
  S.progress = snap.progress || {};
  S.ticks = snap.ticks || [];
  S.epochs = snap.epochs || [];
  S.final = snap.final || null;
  schedule();
}

function applyUpdate(u) {
  if (u.run) S.run = u.run;
  S.status = u.status;
  S.progress = u.progress || S.progress;
  for (const t of u.ticks || []) S.ticks.push(t);
  for (const e of u.epochs || []) S.epochs.push(e);
  if (u.final) S.final = u.final;
  schedule();
}

function connect() {
  if (!window.EventSource) return poll();
  const es = new EventSource("events");
  es.addEventListener("snapshot", (ev) => applySnapshot(JSON.parse(ev.data)));
  es.addEventListener("update", (ev) => applyUpdate(JSON.parse(ev.data)));
  es.addEventListener("end", () => { es.close(); schedule(); });
  es.onerror = () => {
    if (S.status === "done" || S.status === "failed") { es.close(); return; }
    if (es.readyState === EventSource.CLOSED) { es.close(); poll(); }
    else if (S.status === "connecting") setStatus("offline");
  };
}

function poll() {
  if (polling) return;
  const once = () => fetch("state", { cache: "no-store" })
    .then((r) => r.json()).then(applySnapshot)
    .catch(() => setStatus("offline"))
    .finally(() => {
      if (S.status === "done" || S.status === "failed") { clearInterval(polling); }
    });
  once();
  polling = setInterval(once, 1000);
}

// ------------------------------------------------------------------ drawing

function schedule() {
  if (pending) return;
  pending = true;
  requestAnimationFrame(() => { pending = false; render(); });
}

function setStatus(text) {
  const el = $("status");
  el.textContent = text;
  el.dataset.status = text;
}

const fmt = {
  int: (v) => Math.round(v).toLocaleString("en-US"),
  num: (v) => (v === null || v === undefined ? "–" : Math.abs(v) >= 100 ? v.toFixed(0) : v.toPrecision(3)),
  pct: (v) => (v === null || v === undefined ? "–" : (100 * v).toFixed(2) + " %"),
  time: (s) => {
    if (s === null || s === undefined || !isFinite(s)) return "–";
    s = Math.round(s);
    const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), r = s % 60;
    return h ? `${h} h ${m} min` : m ? `${m} min ${r} s` : `${r} s`;
  },
};

function render() {
  const run = S.run, last = S.epochs[S.epochs.length - 1], p = S.progress;
  setStatus(S.status);
  const bits = [];
  if (run.dataset) bits.push(run.dataset);
  if (run.model) bits.push(run.model);
  if (run.mode) bits.push(run.mode === "mini-batch" ? `mini-batch ${run.batch_size}` : run.mode);
  if (run.optimizer) bits.push(`${run.optimizer} lr ${run.learning_rate}`);
  if (run.n_train) bits.push(`${fmt.int(run.n_train)} training` +
    (run.n_validation ? `, ${fmt.int(run.n_validation)} validation` : "") + " images");
  if (run.device) bits.push(`device ${run.device}`);
  if (bits.length) $("run-info").textContent = bits.join(" · ");

  const epochs = run.epochs || "?";
  const epoch = p.epoch || (last ? last.epoch : 0);
  $("stat-epoch").textContent = epoch ? `${epoch} / ${epochs}` : "–";
  $("stat-rate").textContent = p.rate ? fmt.int(p.rate) : "–";
  const newer = last && (!p.t || last.t >= p.t) ? last : p;
  const eta = S.status === "training" ? newer.eta : S.status === "evaluating" ? null : 0;
  $("stat-eta").textContent = S.status === "done" ? "done" : fmt.time(eta);
  $("stat-lr").textContent = last ? fmt.num(last.learning_rate) : run.learning_rate ? fmt.num(run.learning_rate) : "–";
  const tick = S.ticks[S.ticks.length - 1];
  $("stat-loss").textContent = tick ? tick.mean.toFixed(4) : "–";
  $("stat-acc").textContent = last ? fmt.pct(last.accuracy) + " / " + fmt.pct(last.val_accuracy) : "–";
  const frac = tick ? tick.x - Math.floor(tick.x - 1e-9) : 0;
  $("epoch-bar").style.width = (S.status === "training" ? 100 * frac : S.epochs.length ? 100 : 0) + "%";

  drawLoss();
  const ep = (key) => S.epochs.filter((e) => e[key] !== null && e[key] !== undefined).map((e) => [e.epoch, e[key]]);
  const xmax = Math.max(run.epochs || 1, ...S.epochs.map((e) => e.epoch));
  const xmin = (run.epochs_before || 0) + (S.ticks.length ? 0 : 0.5);
  chart($("acc-chart"), {
    xmin: Math.min(xmin, 0.5 + (run.epochs_before || 0)), xmax: xmax + 0.5, yfmt: (v) => v.toFixed(1),
    series: [
      { points: ep("accuracy").map(([x, y]) => [x, 100 * y]), color: css("--train"), dots: true },
      { points: ep("val_accuracy").map(([x, y]) => [x, 100 * y]), color: css("--val"), dots: true, dash: [5, 4] },
    ],
  });
  chart($("lr-chart"), {
    xmin: (run.epochs_before || 0), xmax: xmax, ymin0: true, yfmt: (v) => v.toPrecision(2),
    series: [{ points: ep("learning_rate"), color: "#7b3fb8", dots: true, step: true }],
  });
  chart($("rate-chart"), {
    xmin: (run.epochs_before || 0), xmax: xmax, ymin0: true, yfmt: (v) => fmt.int(v),
    series: [
      { points: S.ticks.filter((t) => t.batch !== null).map((t) => [t.x, t.rate]), color: "#5b6b86" },
      { points: ep("samples_per_second"), color: css("--train"), dots: true },
    ],
  });
  if (S.final) drawFinal(S.final);
  // What a test (or a curious user) can read without parsing the canvases.
  const d = document.body.dataset;
  d.status = S.status;
  d.epochs = String(S.epochs.length);
  d.ticks = String(S.ticks.length);
}

function css(name) { return getComputedStyle(document.documentElement).getPropertyValue(name).trim(); }

function smooth(values) {
  // Exponential moving average with bias correction (as gnet.plots.smooth).
  const span = Math.max(5, 0.02 * values.length), w = 1 - 1 / span, out = [];
  let acc = 0;
  values.forEach((v, i) => { acc = w * acc + (1 - w) * v; out.push(acc / (1 - Math.pow(w, i + 1))); });
  return out;
}

function drawLoss() {
  const run = S.run, ticks = S.ticks.filter((t) => t.loss !== null);
  const raw = ticks.map((t) => [t.x, t.loss]);
  const sm = smooth(ticks.map((t) => t.loss)).map((v, i) => [ticks[i].x, v]);
  const series = [
    { points: raw, color: css("--raw"), width: 1 },
    { points: sm, color: css("--smooth"), width: 2 },
  ];
  // In per-sample mode each reading covers many single-image steps: the
  // epoch's running mean is the steadier line to read.
  series.push({ points: ticks.map((t) => [t.x, t.mean]), color: css("--mean"), width: 1.5, dash: [4, 3] });
  series.push({ points: S.epochs.filter((e) => e.loss !== null).map((e) => [e.epoch, e.loss]), color: css("--train"), dots: true });
  series.push({ points: S.epochs.filter((e) => e.val_loss != null).map((e) => [e.epoch, e.val_loss]), color: css("--val"), dots: true, dash: [5, 4] });
  const xmax = Math.max(run.epochs || 1, ...S.epochs.map((e) => e.epoch));
  chart($("loss-chart"), { xmin: run.epochs_before || 0, xmax: xmax, ylog: true, series, yfmt: (v) => v.toPrecision(2) });
}

// A line chart on a canvas: series of [x, y] points, linear x, linear or log y.
function chart(canvas, opt) {
  const dpr = window.devicePixelRatio || 1;
  const W = canvas.clientWidth || 300, H = canvas.clientHeight || 200;
  if (canvas.width !== Math.round(W * dpr) || canvas.height !== Math.round(H * dpr)) {
    canvas.width = Math.round(W * dpr);
    canvas.height = Math.round(H * dpr);
  }
  const g = canvas.getContext("2d");
  g.setTransform(dpr, 0, 0, dpr, 0, 0);
  g.clearRect(0, 0, W, H);
  const all = opt.series.flatMap((s) => s.points).filter((p) => isFinite(p[1]) && (!opt.ylog || p[1] > 0));
  canvas.dataset.points = String(opt.series.reduce((n, s) => n + s.points.length, 0));
  const L = 56, R = 10, T = 8, B = 24;
  g.font = "11px system-ui, sans-serif";
  g.fillStyle = "#667085";
  if (!all.length) {
    g.fillText("waiting for data…", L, T + 20);
    return;
  }
  let ylo = Math.min(...all.map((p) => p[1])), yhi = Math.max(...all.map((p) => p[1]));
  if (opt.ymin0 && !opt.ylog) ylo = Math.min(0, ylo);
  const ty = opt.ylog ? Math.log10 : (v) => v;
  let a = ty(ylo), b = ty(yhi);
  if (b - a < 1e-12) { a -= opt.ylog ? 0.5 : Math.abs(a) * 0.1 + 1e-3; b += opt.ylog ? 0.5 : Math.abs(b) * 0.1 + 1e-3; }
  const pad = (b - a) * 0.06; a -= opt.ymin0 && !opt.ylog && ylo >= 0 ? 0 : pad; b += pad;
  const x0 = opt.xmin, x1 = Math.max(opt.xmax, x0 + 1e-9);
  const X = (x) => L + ((x - x0) / (x1 - x0)) * (W - L - R);
  const Y = (y) => T + (1 - (ty(y) - a) / (b - a)) * (H - T - B);
  // grid and labels
  g.strokeStyle = "#eceef2"; g.lineWidth = 1;
  const yt = opt.ylog ? logTicks(a, b) : niceTicks(a, b, 5);
  g.textAlign = "right"; g.textBaseline = "middle";
  for (const v of yt) {
    const y = Y(v);
    g.beginPath(); g.moveTo(L, y); g.lineTo(W - R, y); g.stroke();
    g.fillText(opt.yfmt ? opt.yfmt(v) : String(v), L - 6, y);
  }
  g.textAlign = "center"; g.textBaseline = "top";
  const step = Math.max(1, Math.ceil((x1 - x0) / 10));
  for (let x = Math.ceil(x0); x <= x1 + 1e-9; x += step) {
    g.beginPath(); g.moveTo(X(x), T); g.lineTo(X(x), H - B); g.stroke();
    g.fillText(String(x), X(x), H - B + 5);
  }
  g.textAlign = "right"; g.fillText("epoch", W - R, H - 12);
  g.strokeStyle = "#c9ced8"; g.strokeRect(L, T, W - L - R, H - T - B);
  g.save();
  g.beginPath(); g.rect(L, T, W - L - R, H - T - B); g.clip();
  for (const s of opt.series) {
    const pts = s.points.filter((p) => isFinite(p[1]) && (!opt.ylog || p[1] > 0));
    if (!pts.length) continue;
    g.strokeStyle = s.color; g.fillStyle = s.color; g.lineWidth = s.width || 1.5;
    g.setLineDash(s.dash || []);
    g.beginPath();
    pts.forEach(([x, y], i) => {
      if (i === 0) g.moveTo(s.step ? X(x - 1) : X(x), Y(y));
      else if (s.step) g.lineTo(X(pts[i - 1][0]), Y(y));
      g.lineTo(X(x), Y(y));
    });
    g.stroke();
    g.setLineDash([]);
    if (s.dots) for (const [x, y] of pts) { g.beginPath(); g.arc(X(x), Y(y), 3.2, 0, 2 * Math.PI); g.fill(); }
  }
  g.restore();
}

function niceTicks(a, b, n) {
  const span = b - a, raw = span / n, mag = Math.pow(10, Math.floor(Math.log10(raw)));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => span / s <= n) || 10 * mag;
  const out = [];
  for (let v = Math.ceil(a / step) * step; v <= b + 1e-12; v += step) out.push(+v.toPrecision(12));
  return out;
}

function logTicks(a, b) {
  const out = [];
  for (let e = Math.floor(a); e <= Math.ceil(b); e++) {
    for (const m of b - a > 2 ? [1] : [1, 2, 5]) {
      const v = m * Math.pow(10, e);
      if (Math.log10(v) >= a && Math.log10(v) <= b) out.push(v);
    }
  }
  return out.length ? out : [Math.pow(10, (a + b) / 2)];
}

// ------------------------------------------------------------------ final results

let finalDrawn = null;

function drawFinal(f) {
  if (finalDrawn === f) return;
  finalDrawn = f;
  $("final").hidden = false;
  if (f.error || !f.confusion_matrix) {
    $("final-info").textContent = f.error || "no test results";
    return;
  }
  const early = f.stopped_early ? ` · early stopping: weights of epoch ${f.best_epoch}` : "";
  $("final-info").textContent =
    `test accuracy ${fmt.pct(f.accuracy)} on ${fmt.int(f.n_samples)} images${early}`;
  drawConfusion($("confusion"), f.confusion_matrix, f.class_names || []);
  const box = $("mistakes");
  box.replaceChildren();
  for (const m of f.mistakes || []) {
    const fig = document.createElement("figure");
    if (m.pixels) {
      const c = document.createElement("canvas");
      c.width = c.height = m.side;
      const img = c.getContext("2d").createImageData(m.side, m.side);
      m.pixels.forEach((v, i) => {
        img.data[4 * i] = img.data[4 * i + 1] = img.data[4 * i + 2] = 255 - v;
        img.data[4 * i + 3] = 255;
      });
      c.getContext("2d").putImageData(img, 0, 0);
      fig.appendChild(c);
    }
    const cap = document.createElement("figcaption");
    const name = (k) => (f.class_names && f.class_names[k]) || String(k);
    cap.append(`${name(m.true)} → `);
    const b = document.createElement("b");
    b.textContent = name(m.predicted);
    cap.append(b, ` ${Math.round(100 * m.probability)}%`);
    fig.appendChild(cap);
    box.appendChild(fig);
  }
  box.dataset.count = String((f.mistakes || []).length);
  if (!(f.mistakes || []).length) box.textContent = "no mistakes";
}

function drawConfusion(canvas, cm, names) {
  const k = cm.length, g = canvas.getContext("2d"), size = 420, L = 34, T = 6;
  const dpr = window.devicePixelRatio || 1;
  canvas.width = size * dpr; canvas.height = size * dpr;
  g.setTransform(dpr, 0, 0, dpr, 0, 0);
  g.clearRect(0, 0, size, size);
  const cell = (size - L - 26) / k;
  let total = 0;
  g.font = `${Math.min(12, cell / 3)}px system-ui, sans-serif`;
  g.textAlign = "center"; g.textBaseline = "middle";
  cm.forEach((row, i) => {
    const n = row.reduce((s, v) => s + v, 0) || 1;
    row.forEach((v, j) => {
      total += v;
      const share = Math.sqrt(v / n);
      g.fillStyle = i === j ? `rgba(30, 142, 62, ${0.1 + 0.9 * share})` : `rgba(214, 48, 49, ${share})`;
      g.fillRect(L + j * cell, T + i * cell, cell - 1, cell - 1);
      if (v) {
        g.fillStyle = share > 0.6 ? "#fff" : "#1d2430";
        g.fillText(String(v), L + (j + 0.5) * cell, T + (i + 0.5) * cell);
      }
    });
  });
  g.fillStyle = "#667085";
  const label = (c) => { const s = names[c] || String(c); return s.length > 4 ? s.slice(0, 4) : s; };
  for (let c = 0; c < k; c++) {
    g.fillText(label(c), L / 2, T + (c + 0.5) * cell);
    g.fillText(label(c), L + (c + 0.5) * cell, T + k * cell + 10);
  }
  canvas.dataset.total = String(total);
}

window.addEventListener("resize", schedule);
connect();
