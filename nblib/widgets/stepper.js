// Front end of nblib.widgets.Stepper (an anywidget ES module).
//
// Every frame was computed in Python and lives in the model's `frames`; this file only draws
// the current one and moves between them (Prev / Next / Play / slider / arrow keys). Nothing
// here needs a kernel, so the same code runs live in Jupyter and in the static book.

const SVG_NS = "http://www.w3.org/2000/svg";

function esc(text) {
  return String(text ?? "").replace(/[&<>"']/g, (c) => (
    { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]
  ));
}

// Numbers as a reader writes them: 4 significant digits, no trailing zeros.
function fmt(x) {
  if (x === null || x === undefined) return "?";
  if (typeof x !== "number") return String(x);
  if (Number.isInteger(x) && Math.abs(x) < 1e6) return String(x);
  const a = Math.abs(x);
  if (a !== 0 && (a < 1e-3 || a >= 1e5)) return x.toExponential(2);
  return String(parseFloat(x.toPrecision(4)));
}

function el(tag, attrs = {}, text) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  if (text !== undefined) node.textContent = text;
  return node;
}

// Diverging colour for a value in [-1, 1]: blue (negative) - neutral - red (positive).
function heat(t) {
  const s = Math.max(-1, Math.min(1, t));
  const alpha = (0.12 + 0.78 * Math.abs(s)).toFixed(3);
  return s >= 0 ? `rgba(214, 39, 40, ${alpha})` : `rgba(31, 119, 180, ${alpha})`;
}

// ---------------------------------------------------------------- renderers (return SVG markup)

function renderGraph(frame) {
  const nodes = frame.nodes || [];
  const edges = frame.edges || [];
  const activeN = new Set(frame.active_nodes || []);
  const activeE = new Set(frame.active_edges || []);
  const W = 120, H = 62, GX = 158, GY = 80, PAD = 14;
  const xs = nodes.map((n) => n.x), ys = nodes.map((n) => n.y);
  const minX = Math.min(0, ...xs), minY = Math.min(0, ...ys);
  const maxX = Math.max(0, ...xs), maxY = Math.max(0, ...ys);
  const pos = {};
  for (const n of nodes) {
    pos[n.id] = { x: PAD + (n.x - minX) * GX, y: PAD + 10 + (n.y - minY) * GY };
  }
  const width = PAD * 2 + (maxX - minX) * GX + W;
  const height = PAD * 2 + 10 + (maxY - minY) * GY + H;
  let out = `<svg xmlns="${SVG_NS}" class="nbs-svg" viewBox="0 0 ${width} ${height}" ` +
    `width="${width}" role="img" aria-label="computation graph">` +
    `<defs><marker id="nbs-arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" ` +
    `markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" ` +
    `class="nbs-arrowhead"/></marker><marker id="nbs-arrow-hot" viewBox="0 0 10 10" refX="10" ` +
    `refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse">` +
    `<path d="M0,0 L10,5 L0,10 z" class="nbs-arrowhead-hot"/></marker></defs>`;
  // Edges first (under the nodes). Parallel edges (a value used twice) are bent apart.
  const seen = {};
  for (const e of edges) {
    const a = pos[e.source], b = pos[e.target];
    if (!a || !b) continue;
    const key = `${e.source}->${e.target}`;
    const k = (seen[key] = (seen[key] ?? -1) + 1);
    const x1 = a.x + W, y1 = a.y + H / 2, x2 = b.x - 2, y2 = b.y + H / 2;
    const bend = k === 0 ? 0 : (k % 2 ? 1 : -1) * 18 * Math.ceil(k / 2);
    const mx = (x1 + x2) / 2, my = (y1 + y2) / 2 + bend;
    const hot = activeE.has(e.id);
    out += `<path class="nbs-edge${hot ? " nbs-hot" : ""}" d="M${x1},${y1} Q${mx},${my} ${x2},${y2}" ` +
      `marker-end="url(#${hot ? "nbs-arrow-hot" : "nbs-arrow"})"/>`;
    if (e.label) {
      out += `<text class="nbs-edge-label" x="${mx}" y="${my - 6}" text-anchor="middle">${esc(e.label)}</text>`;
    }
  }
  for (const n of nodes) {
    const p = pos[n.id];
    const hot = activeN.has(n.id);
    const pending = n.value === null || n.value === undefined;
    out += `<g class="nbs-node${hot ? " nbs-hot" : ""}${pending ? " nbs-pending" : ""}">` +
      `<rect x="${p.x}" y="${p.y}" width="${W}" height="${H}" rx="8"/>`;
    if (n.op) {
      const bw = Math.max(24, 10 + 7.5 * String(n.op).length);
      out += `<rect class="nbs-op" x="${p.x - bw / 2 + 8}" y="${p.y - 11}" width="${bw}" height="22" rx="11"/>` +
        `<text class="nbs-op-text" x="${p.x + 8}" y="${p.y + 4}" text-anchor="middle">${esc(n.op)}</text>`;
    }
    out += `<text class="nbs-name" x="${p.x + W / 2}" y="${p.y + 17}" text-anchor="middle">${esc(n.name ?? n.id)}</text>` +
      `<text class="nbs-value" x="${p.x + W / 2}" y="${p.y + 36}" text-anchor="middle">value ${esc(fmt(n.value))}</text>`;
    if (n.grad !== null && n.grad !== undefined) {
      out += `<text class="nbs-grad" x="${p.x + W / 2}" y="${p.y + 54}" text-anchor="middle">grad ${esc(fmt(n.grad))}</text>`;
    }
    out += "</g>";
  }
  return out + "</svg>";
}

function renderMatrix(frame) {
  const mats = frame.matrices || (frame.matrix ? [{
    name: frame.name, data: frame.matrix, highlight: frame.highlight,
    row_labels: frame.row_labels, col_labels: frame.col_labels,
  }] : []);
  const C = 40, GAP = 36, TOP = 28, LEFT = 34;
  let x0 = 6, height = 0, body = "";
  for (const m of mats) {
    const data = m.data || [];
    const rows = data.length, cols = rows ? Math.max(...data.map((r) => r.length)) : 0;
    let maxAbs = 0;
    for (const r of data) for (const v of r) if (typeof v === "number") maxAbs = Math.max(maxAbs, Math.abs(v));
    const hl = new Set((m.highlight || []).map(([i, j]) => `${i},${j}`));
    const showNumbers = cols <= 12 && rows <= 16;
    const left = x0 + (m.row_labels ? LEFT : 0);
    body += `<text class="nbs-mat-name" x="${left + (cols * C) / 2}" y="16" text-anchor="middle">${esc(m.name ?? "")}` +
      (rows ? ` (${rows}×${cols})` : "") + "</text>";
    data.forEach((r, i) => {
      if (m.row_labels) {
        body += `<text class="nbs-axis" x="${left - 4}" y="${TOP + i * C + C / 2 + 4}" text-anchor="end">${esc(m.row_labels[i] ?? "")}</text>`;
      }
      r.forEach((v, j) => {
        const x = left + j * C, y = TOP + i * C;
        const fill = typeof v === "number" && maxAbs > 0 ? heat(v / maxAbs) : "transparent";
        body += `<rect class="nbs-cell" x="${x}" y="${y}" width="${C}" height="${C}" style="fill:${fill}"/>`;
        if (showNumbers) {
          body += `<text class="nbs-cell-text" x="${x + C / 2}" y="${y + C / 2 + 4}" text-anchor="middle">${esc(fmt(v))}</text>`;
        }
      });
    });
    // Highlight outlines last, so that they are drawn over neighbouring cells.
    for (const key of hl) {
      const [i, j] = key.split(",").map(Number);
      body += `<rect class="nbs-cell-hot" x="${left + j * C + 1.5}" y="${TOP + i * C + 1.5}" width="${C - 3}" height="${C - 3}"/>`;
    }
    if (m.col_labels) {
      m.col_labels.forEach((lab, j) => {
        body += `<text class="nbs-axis" x="${left + j * C + C / 2}" y="${TOP + rows * C + 14}" text-anchor="middle">${esc(lab)}</text>`;
      });
    }
    height = Math.max(height, TOP + rows * C + (m.col_labels ? 22 : 6));
    x0 = left + cols * C + GAP;
  }
  const width = Math.max(x0 - GAP + 6, 60);
  return `<svg xmlns="${SVG_NS}" class="nbs-svg" viewBox="0 0 ${width} ${height}" width="${width}" ` +
    `role="img" aria-label="matrices">${body}</svg>`;
}

function renderBars(frame) {
  const vecs = frame.vectors || (frame.values ? [{
    name: frame.name, values: frame.values, labels: frame.labels, highlight: frame.highlight,
  }] : []);
  const BW = 30, GAP = 40, PH = 150, TOP = 36; // TOP: room for the name above the tallest bar's value
  let x0 = 8, body = "";
  for (const v of vecs) {
    const vals = v.values || [];
    const maxAbs = Math.max(1e-12, ...vals.map((x) => Math.abs(x ?? 0)));
    const hasNeg = vals.some((x) => x < 0);
    const zeroY = TOP + (hasNeg ? PH / 2 : PH);
    const scale = (hasNeg ? PH / 2 : PH) / maxAbs;
    const hl = new Set(v.highlight || []);
    body += `<text class="nbs-mat-name" x="${x0 + (vals.length * BW) / 2}" y="14" text-anchor="middle">${esc(v.name ?? "")}</text>`;
    body += `<line class="nbs-zero" x1="${x0}" x2="${x0 + vals.length * BW}" y1="${zeroY}" y2="${zeroY}"/>`;
    vals.forEach((x, i) => {
      const h = Math.abs(x ?? 0) * scale;
      const y = x >= 0 ? zeroY - h : zeroY;
      body += `<rect class="nbs-bar${hl.has(i) ? " nbs-hot" : ""}${x < 0 ? " nbs-neg" : ""}" x="${x0 + i * BW + 3}" ` +
        `y="${y}" width="${BW - 6}" height="${Math.max(h, 0.5)}"/>`;
      body += `<text class="nbs-bar-text" x="${x0 + i * BW + BW / 2}" y="${x >= 0 ? y - 3 : y + h + 11}" text-anchor="middle">${esc(fmt(x))}</text>`;
      const lab = v.labels ? v.labels[i] : i;
      body += `<text class="nbs-axis" x="${x0 + i * BW + BW / 2}" y="${TOP + PH + 26}" text-anchor="middle">${esc(lab)}</text>`;
    });
    x0 += vals.length * BW + GAP;
  }
  const width = Math.max(x0 - GAP + 8, 60), height = TOP + PH + 34;
  return `<svg xmlns="${SVG_NS}" class="nbs-svg" viewBox="0 0 ${width} ${height}" width="${width}" ` +
    `role="img" aria-label="bar chart">${body}</svg>`;
}

const RENDERERS = { graph: renderGraph, matrix: renderMatrix, bars: renderBars };

// ---------------------------------------------------------------- the widget

function render({ model, el: root }) {
  const frames = () => model.get("frames") || [];
  const n = () => frames().length;
  let timer = null;

  const box = el("div", { class: "nbs-stepper", tabindex: "0", role: "group" });
  const title = el("div", { class: "nbs-title" });
  const bar = el("div", { class: "nbs-controls" });
  const first = el("button", { type: "button", class: "nbs-first", "aria-label": "First step", title: "First step (Home)" }, "« First");
  const prev = el("button", { type: "button", class: "nbs-prev", "aria-label": "Previous step", title: "Previous step (←)" }, "◀ Prev");
  const play = el("button", { type: "button", class: "nbs-play", "aria-label": "Play", title: "Play / pause (space)" }, "▶ Play");
  const next = el("button", { type: "button", class: "nbs-next", "aria-label": "Next step", title: "Next step (→)" }, "Next ▶");
  const last = el("button", { type: "button", class: "nbs-last", "aria-label": "Last step", title: "Last step (End)" }, "Last »");
  const slider = el("input", { type: "range", class: "nbs-slider", min: "0", step: "1", "aria-label": "Step" });
  const label = el("span", { class: "nbs-label", "aria-hidden": "true" });
  bar.append(first, prev, play, next, last, slider, label);
  const stage = el("div", { class: "nbs-stage" });
  const rule = el("div", { class: "nbs-rule" });
  const caption = el("div", { class: "nbs-caption", "aria-live": "polite", "aria-atomic": "true" });
  box.append(title, bar, stage, rule, caption);
  root.append(box);

  function current() {
    const s = model.get("step") | 0;
    return Math.max(0, Math.min(n() - 1, s));
  }

  function go(i) {
    const target = Math.max(0, Math.min(n() - 1, i));
    if (target === model.get("step")) return draw();
    model.set("step", target);
    try { model.save_changes(); } catch (err) { /* static page: no kernel to tell */ }
    draw();
  }

  function stop() {
    if (timer !== null) clearInterval(timer);
    timer = null;
    play.textContent = "▶ Play";
    play.setAttribute("aria-label", "Play");
  }

  function start() {
    if (current() >= n() - 1) go(0);
    timer = setInterval(() => {
      if (current() >= n() - 1) return stop();
      go(current() + 1);
    }, Math.max(50, model.get("interval") || 900));
    play.textContent = "⏸ Pause";
    play.setAttribute("aria-label", "Pause");
  }

  function draw() {
    const count = n();
    const i = current();
    const frame = frames()[i] || {};
    const name = model.get("title") || "";
    title.textContent = name;
    title.hidden = !name;
    box.setAttribute("aria-label", name ? `${name}: step-by-step animation` : "step-by-step animation");
    slider.max = String(Math.max(0, count - 1));
    slider.value = String(i);
    slider.setAttribute("aria-valuetext", `step ${i + 1} of ${count}`);
    label.textContent = `step ${i + 1} / ${count}`;
    prev.disabled = first.disabled = i <= 0;
    next.disabled = last.disabled = i >= count - 1;
    const paint = RENDERERS[model.get("renderer")] || renderGraph;
    try {
      stage.innerHTML = paint(frame);
    } catch (err) {
      stage.textContent = `cannot draw frame ${i}: ${err}`;
    }
    rule.textContent = frame.rule || "";
    rule.hidden = !frame.rule;
    const head = frame.label ? `${frame.label}. ` : "";
    caption.textContent = `Step ${i + 1} of ${count}. ${head}${frame.caption || ""}`;
  }

  first.addEventListener("click", () => { stop(); go(0); });
  prev.addEventListener("click", () => { stop(); go(current() - 1); });
  next.addEventListener("click", () => { stop(); go(current() + 1); });
  last.addEventListener("click", () => { stop(); go(n() - 1); });
  play.addEventListener("click", () => (timer === null ? start() : stop()));
  slider.addEventListener("input", () => { stop(); go(parseInt(slider.value, 10)); });
  box.addEventListener("keydown", (ev) => {
    if (ev.target === slider) return; // the slider handles its own arrow keys
    const moves = { ArrowRight: 1, ArrowDown: 1, ArrowLeft: -1, ArrowUp: -1 };
    if (ev.key in moves) { stop(); go(current() + moves[ev.key]); }
    else if (ev.key === "Home") { stop(); go(0); }
    else if (ev.key === "End") { stop(); go(n() - 1); }
    else if (ev.key === " " && ev.target === box) { timer === null ? start() : stop(); }
    else return;
    ev.preventDefault();
    ev.stopPropagation(); // keep JupyterLab from treating the key as a notebook command
  });

  const redraw = () => draw();
  model.on("change:step", redraw);
  model.on("change:frames", redraw);
  model.on("change:renderer", redraw);
  model.on("change:title", redraw);
  draw();

  return () => {
    stop();
    model.off("change:step", redraw);
    model.off("change:frames", redraw);
    model.off("change:renderer", redraw);
    model.off("change:title", redraw);
  };
}

export default { render };
