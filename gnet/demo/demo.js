// gnet demo page: draw on a canvas, ask the server, show what the network thinks.
//
// The drawing is white ink on a transparent canvas (black behind it, as MNIST
// digits are); its alpha channel, 280x280 values in 0..255, is what POST
// /predict receives. Predictions are asked for at the end of every stroke and,
// while drawing, at most every THROTTLE_MS, with one request in flight at a time.
// window.gnetDemo exposes the counters (version drawn, version shown) so a
// test or a curious user can tell when the page shows the latest drawing.
"use strict";

(() => {
  const LINE_WIDTH = 18;
  const THROTTLE_MS = 150;

  const pad = document.getElementById("pad");
  const ctx = pad.getContext("2d", { willReadFrequently: true });
  const seen = document.getElementById("seen");
  const seenCtx = seen.getContext("2d");
  const barsBox = document.getElementById("bars");
  const predictionEl = document.getElementById("prediction");
  const confidenceEl = document.getElementById("confidence");
  const statusEl = document.getElementById("status");

  // version: bumped by every change to the drawing; shown: the version the
  // display reflects; cleared: the version of the last clear (older answers
  // arriving late are dropped).
  const state = { version: 0, shown: 0, cleared: 0, inFlight: false, predictions: 0, errors: 0 };
  window.gnetDemo = state;

  let classNames = [...Array(10).keys()].map(String);
  let bars = [];
  let drawing = false;
  let last = null;
  let timer = null;
  let lastSent = -Infinity;

  // ---------------------------------------------------------------- drawing

  function setupPen() {
    ctx.lineCap = "round";
    ctx.lineJoin = "round";
    ctx.lineWidth = LINE_WIDTH;
    ctx.strokeStyle = "#fff";
    ctx.fillStyle = "#fff";
  }

  function point(event) {
    const r = pad.getBoundingClientRect();
    return [
      ((event.clientX - r.left) * pad.width) / r.width,
      ((event.clientY - r.top) * pad.height) / r.height,
    ];
  }

  function dot([x, y]) {
    ctx.beginPath();
    ctx.arc(x, y, LINE_WIDTH / 2, 0, 2 * Math.PI);
    ctx.fill();
  }

  function segment([x0, y0], [x1, y1]) {
    ctx.beginPath();
    ctx.moveTo(x0, y0);
    ctx.lineTo(x1, y1);
    ctx.stroke();
  }

  pad.addEventListener("pointerdown", (event) => {
    if (event.pointerType === "mouse" && event.button !== 0) return;
    event.preventDefault();
    pad.setPointerCapture(event.pointerId);
    drawing = true;
    last = point(event);
    dot(last);
    changed();
  });

  pad.addEventListener("pointermove", (event) => {
    if (!drawing) return;
    const events = event.getCoalescedEvents ? event.getCoalescedEvents() : [];
    for (const e of events.length ? events : [event]) {
      const p = point(e);
      segment(last, p);
      last = p;
    }
    changed();
  });

  function endStroke() {
    if (!drawing) return;
    drawing = false;
    last = null;
    requestPrediction(true);
  }
  pad.addEventListener("pointerup", endStroke);
  pad.addEventListener("pointercancel", endStroke);
  pad.addEventListener("lostpointercapture", endStroke);

  function changed() {
    state.version += 1;
    requestPrediction(false);
  }

  document.getElementById("clear").addEventListener("click", () => {
    ctx.clearRect(0, 0, pad.width, pad.height);
    state.version += 1;
    state.cleared = state.version;
    state.shown = state.version;
    clearTimeout(timer);
    timer = null;
    showBlank();
  });

  // ---------------------------------------------------------------- requests

  // now: at the end of a stroke (no throttling); else while drawing.
  function requestPrediction(now) {
    if (state.inFlight) return; // the answer's handler asks again
    if (timer !== null) {
      if (!now) return;
      clearTimeout(timer);
    }
    const wait = now ? 0 : Math.max(0, THROTTLE_MS - (performance.now() - lastSent));
    timer = setTimeout(send, wait);
  }

  async function send() {
    timer = null;
    if (state.version === state.shown) return;
    const version = state.version;
    const alpha = ctx.getImageData(0, 0, pad.width, pad.height).data;
    const pixels = new Array(pad.width * pad.height);
    for (let i = 0; i < pixels.length; i++) pixels[i] = alpha[4 * i + 3];
    state.inFlight = true;
    lastSent = performance.now();
    try {
      const response = await fetch("predict", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ pixels }),
      });
      const answer = await response.json();
      if (!response.ok) throw new Error(answer.error || `HTTP ${response.status}`);
      if (version > state.cleared) show(answer, version);
    } catch (err) {
      state.errors += 1;
      statusEl.textContent = `prediction failed: ${err.message}`;
    } finally {
      state.inFlight = false;
      if (state.version !== state.shown) requestPrediction(!drawing);
    }
  }

  // ---------------------------------------------------------------- display

  function buildBars() {
    barsBox.replaceChildren();
    bars = classNames.map((name) => {
      const row = document.createElement("div");
      row.className = "bar";
      row.setAttribute("role", "listitem");
      const label = document.createElement("span");
      label.className = "name";
      label.textContent = name;
      const track = document.createElement("div");
      track.className = "track";
      const fill = document.createElement("div");
      fill.className = "fill";
      track.append(fill);
      const value = document.createElement("span");
      value.className = "value";
      row.append(label, track, value);
      barsBox.append(row);
      return { row, fill, value };
    });
  }

  function show(answer, version) {
    state.shown = version;
    state.predictions += 1;
    statusEl.textContent = "";
    if (answer.blank) {
      showBlank();
      return;
    }
    const top = answer.prediction;
    predictionEl.textContent = answer.label;
    predictionEl.dataset.prediction = String(top);
    confidenceEl.textContent = `${(100 * answer.probabilities[top]).toFixed(1)} %`;
    answer.probabilities.forEach((p, k) => {
      const bar = bars[k];
      if (!bar) return;
      bar.fill.style.width = `${(100 * p).toFixed(1)}%`;
      bar.value.textContent = `${(100 * p).toFixed(1)} %`;
      bar.row.classList.toggle("top", k === top);
    });
    const image = seenCtx.createImageData(28, 28);
    answer.image.forEach((v, i) => {
      const g = Math.round(255 * v);
      image.data.set([g, g, g, 255], 4 * i);
    });
    seenCtx.putImageData(image, 0, 0);
  }

  function showBlank() {
    predictionEl.textContent = "\u2013";
    predictionEl.dataset.prediction = "";
    confidenceEl.textContent = "";
    statusEl.textContent = "";
    for (const bar of bars) {
      bar.fill.style.width = "0";
      bar.value.textContent = "";
      bar.row.classList.remove("top");
    }
    seenCtx.clearRect(0, 0, seen.width, seen.height);
  }

  function showModel(model) {
    classNames = model.class_names.map(String);
    buildBars();
    const parts = [
      `model ${model.architecture} (${model.activations.join(", ")})`,
      `${model.parameters.toLocaleString("en")} parameters`,
    ];
    if (model.dataset) parts.push(`trained on ${model.dataset}`);
    if (model.test && model.test.accuracy != null) {
      parts.push(`test accuracy ${(100 * model.test.accuracy).toFixed(2)} %`);
    }
    document.getElementById("model-info").textContent = parts.join(" \u00b7 ");
    showConfusion(model.test);
  }

  function showConfusion(test) {
    const box = document.getElementById("confusion");
    box.replaceChildren();
    if (!test) {
      const p = document.createElement("p");
      p.className = "hint";
      p.textContent =
        "This model file has no test results (gnet train and gnet evaluate record them).";
      box.append(p);
      return;
    }
    const cm = test.confusion_matrix;
    const table = document.createElement("table");
    const caption = table.createCaption();
    let text = `rows: true class, columns: predicted; ${test.n_samples.toLocaleString("en")} test samples`;
    if (test.accuracy != null) text += `, accuracy ${(100 * test.accuracy).toFixed(2)} %`;
    caption.textContent = text;
    const head = table.createTHead().insertRow();
    const corner = document.createElement("th");
    corner.className = "axis";
    corner.textContent = "true \\ pred";
    head.append(corner);
    for (const name of classNames) {
      const th = document.createElement("th");
      th.textContent = name;
      head.append(th);
    }
    const body = table.createTBody();
    cm.forEach((row, i) => {
      const tr = body.insertRow();
      const th = document.createElement("th");
      th.textContent = classNames[i];
      tr.append(th);
      const total = row.reduce((a, b) => a + b, 0) || 1;
      row.forEach((count, j) => {
        const td = tr.insertCell();
        td.textContent = count ? String(count) : "";
        const share = count / total;
        // Errors are rare: scale their colour up so that a few show.
        const alpha = i === j ? 0.15 + 0.6 * share : Math.min(0.8, 8 * share);
        if (count) td.style.background = `rgba(var(${i === j ? "--good" : "--bad"}), ${alpha})`;
      });
    });
    box.append(table);
  }

  setupPen();
  buildBars();
  fetch("model")
    .then((r) => (r.ok ? r.json() : Promise.reject(new Error(`HTTP ${r.status}`))))
    .then(showModel)
    .catch((err) => {
      document.getElementById("model-info").textContent = `cannot load the model: ${err.message}`;
    });
})();
