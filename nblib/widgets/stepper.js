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

// One query's attention, step by step: a row per key (its label, key vector, the score
// columns computed so far, the softmax weights as bars, its value vector), the query vector
// above the keys, the output (the weighted sum of values) below; head and query selectors
// as buttons that jump to the frame whose index they carry (through the slider's own input).
function renderAttention(frame) {
  const uid = `nbs-att-${(renderAttention.count = (renderAttention.count || 0) + 1)}`;
  const keys = frame.keys || [];
  const kv = frame.key_vectors || null, vals = frame.values ? frame.values.rows || [] : null;
  const cols = frame.columns || [];
  const q = frame.query || {};
  const nk = kv && kv.length ? Math.max(...kv.map((r) => r.length)) : 0;
  const nv = vals && vals.length ? Math.max(...vals.map((r) => r.length)) : (frame.output ? frame.output.values.length : 0);
  const CW = 46, NW = 58, BWID = 104, RH = 24, GAP = 16, LW = 74, TOP = 24;
  const hasQ = Array.isArray(q.vector) && nk > 0;
  const y0 = TOP + (hasQ ? RH + 8 : 0); // first key row
  let x = LW + 6, body = "";
  const num = (v) => (typeof v === "number" ? v : null);
  const big = (rows) => Math.max(0, ...rows.flat().map((v) => Math.abs(num(v) ?? 0)));
  const cell = (cx, cy, w, v, scale, cls = "nbs-cell") => {
    const n = num(v);
    const fill = n !== null && scale > 0 ? heat(n / scale) : "transparent";
    let s = `<rect class="${cls}" x="${cx}" y="${cy}" width="${w}" height="${RH}" style="fill:${fill}"/>`;
    if (v !== null && v !== undefined) {
      s += `<text class="nbs-cell-text" x="${cx + w / 2}" y="${cy + RH / 2 + 4}" text-anchor="middle">${esc(fmt(v))}</text>`;
    }
    return s;
  };
  const name = (cx, w, text) => `<text class="nbs-mat-name" x="${cx + w / 2}" y="16" text-anchor="middle">${esc(text)}</text>`;
  // Row labels: the query above, then one per key.
  if (hasQ) body += `<text class="nbs-axis nbs-att-qlabel" x="${LW}" y="${TOP + RH / 2 + 4}" text-anchor="end">q: ${esc(q.label ?? "")}</text>`;
  keys.forEach((k, j) => {
    body += `<text class="nbs-axis" x="${LW}" y="${y0 + j * RH + RH / 2 + 4}" text-anchor="end">${esc(k)}</text>`;
  });
  if (nk) { // the key vectors, with the query vector above them
    const s = big(hasQ ? [...kv, q.vector] : kv);
    body += name(x, nk * CW, frame.key_name || "k");
    if (hasQ) q.vector.forEach((v, d) => { body += cell(x + d * CW, TOP, CW, v, s); });
    kv.forEach((r, j) => r.forEach((v, d) => { body += cell(x + d * CW, y0 + j * RH, CW, v, s); }));
    x += nk * CW + GAP;
  }
  let hot = "";
  cols.forEach((c, ci) => {
    const w = c.bars ? BWID : NW;
    const values = c.values || [];
    body += name(x, w, c.name || "");
    if (c.bars) {
      const m = Math.max(1e-12, ...values.map((v) => Math.abs(num(v) ?? 0)));
      values.forEach((v, j) => {
        const yy = y0 + j * RH, n = num(v);
        body += `<rect class="nbs-cell" x="${x}" y="${yy}" width="${w}" height="${RH}" style="fill:transparent"/>`;
        if (n !== null) {
          const len = Math.max(0.5, (Math.abs(n) / m) * (w - 50));
          body += `<rect class="nbs-bar nbs-att-bar" x="${x + 3}" y="${yy + 5}" width="${len}" height="${RH - 10}"/>` +
            `<text class="nbs-cell-text" x="${x + w - 4}" y="${yy + RH / 2 + 4}" text-anchor="end">${esc(fmt(v))}</text>`;
        } else if (v !== null && v !== undefined) {
          body += `<text class="nbs-cell-text" x="${x + w - 4}" y="${yy + RH / 2 + 4}" text-anchor="end">${esc(fmt(v))}</text>`;
        }
      });
    } else {
      const s = big([values]);
      values.forEach((v, j) => { body += cell(x, y0 + j * RH, w, v, s); });
    }
    if (frame.active_column === ci) {
      hot += `<rect class="nbs-cell-hot nbs-att-hot" x="${x + 1.5}" y="${y0 + 1.5}" width="${w - 3}" height="${keys.length * RH - 3}"/>`;
    }
    x += w + (ci === cols.length - 1 ? GAP : 4);
  });
  let height = y0 + keys.length * RH + 6;
  if (nv) { // the value vectors and, at the last step, their weighted sum
    const rows = vals || [];
    const out = frame.output ? frame.output.values || [] : null;
    const s = big(out ? [...rows, out] : rows);
    body += name(x, nv * CW, frame.values ? frame.values.name || "v" : "");
    rows.forEach((r, j) => r.forEach((v, d) => { body += cell(x + d * CW, y0 + j * RH, CW, v, s); }));
    if (out) {
      const oy = y0 + keys.length * RH + 8;
      body += `<text class="nbs-axis" x="${x - 4}" y="${oy + RH / 2 + 4}" text-anchor="end">${esc(frame.output.name || "output")}</text>`;
      out.forEach((v, d) => { body += cell(x + d * CW, oy, CW, v, s, "nbs-cell nbs-att-out"); });
      hot += `<rect class="nbs-cell-hot nbs-att-hot" x="${x + 1.5}" y="${oy + 1.5}" width="${out.length * CW - 3}" height="${RH - 3}"/>`;
      height = oy + RH + 6;
    }
    x += nv * CW + GAP;
  }
  if (frame.image) { // the keys as patches of an image (a ViT), beside the table
    const view = renderPatchView(frame, x, TOP);
    body += view.body;
    x += view.width + GAP;
    height = Math.max(height, view.height);
  }
  const width = Math.max(x - GAP + 8, 60);
  const svg = `<svg xmlns="${SVG_NS}" class="nbs-svg" viewBox="0 0 ${width} ${height}" width="${width}" ` +
    `role="img" aria-label="attention of one query">${body}${hot}</svg>`;
  // Selectors: a button per head and per query token, each carrying the frame it shows.
  const selector = (sel, what) => {
    if (!sel || !(sel.labels || []).length) return "";
    let s = `<div class="nbs-att-sel" data-kind="${what}" role="group" aria-label="${what}" ` +
      `style="display:flex;flex-wrap:wrap;align-items:center;gap:4px;margin:0 0 4px">` +
      `<span style="color:var(--nbs-muted);min-width:3.6em">${what}</span>`;
    sel.labels.forEach((lab, i) => {
      const on = i === sel.current;
      s += `<button type="button" class="nbs-att-btn${on ? " nbs-att-on" : ""}" data-goto="${sel.steps[i]}" ` +
        `aria-pressed="${on}" style="font:inherit;font-size:12px;color:var(--nbs-fg);background:var(--nbs-node-bg);` +
        `border:${on ? 2 : 1}px solid ${on ? "var(--nbs-hot)" : "var(--nbs-border)"};border-radius:4px;` +
        `padding:0 7px;min-height:24px;cursor:pointer;font-weight:${on ? 600 : 400}">${esc(lab)}</button>`;
    });
    return s + "</div>";
  };
  queueMicrotask(() => { // wire the buttons once the stage holds them
    const root = document.querySelector(`[data-nbs-att="${uid}"]`);
    const box = root && root.closest(".nbs-stepper");
    const slider = box && box.querySelector(".nbs-slider");
    if (!slider) return;
    for (const b of root.querySelectorAll("button[data-goto]")) {
      b.addEventListener("click", () => {
        slider.value = b.dataset.goto;
        slider.dispatchEvent(new Event("input"));
        box.focus();
      });
    }
  });
  return `<div class="nbs-att" data-nbs-att="${uid}">${selector(frame.heads, "head")}` +
    `${selector(frame.queries, "query")}${svg}</div>`;
}

// The image of a Vision Transformer, its keys drawn as patches (frame.image, from
// nblib.widgets.attention): the pixels (hex, two digits each, row by row; black ones are left
// to the background), then one square per key patch shaded by the column frame.image.shade of
// this step (scores: red/blue by sign; weights: orange, stronger for more weight) with its
// number when the square is large enough, the query's own key (frame.image.query_key) outlined;
// the prefix keys ([CLS])
// as squares under the image. Returns {body, width, height} in the table's SVG coordinates.
function renderPatchView(frame, x0, top) {
  const im = frame.image, H = im.height, W = im.width, P = im.patch;
  const PX = Math.max(2, Math.min(12, Math.floor(240 / Math.max(H, W)))); // screen px per pixel
  const C = P * PX, y0 = top + 8;                                           // a patch's side
  const keys = frame.keys || [], places = im.key_patches || [];
  const col = (frame.columns || [])[im.shade] || {};
  const vals = (col.values || []).map((v) => (typeof v === "number" ? v : null));
  const big = Math.max(1e-12, ...vals.map((v) => Math.abs(v ?? 0)));
  const shade = (v) => {
    if (v === null) return "transparent";
    const t = Math.abs(v) / big; // lighter than heat(): the digit must show through
    if (col.bars) return `rgba(217, 95, 2, ${(0.7 * t).toFixed(3)})`;
    return `rgba(${v >= 0 ? "214, 39, 40" : "31, 119, 180"}, ${(0.1 + 0.6 * t).toFixed(3)})`;
  };
  let s = `<text class="nbs-att-img-name" x="${x0 + (W * PX) / 2}" y="16" ` +
    `text-anchor="middle">${esc(col.name || "")} on the image</text>` +
    `<rect class="nbs-att-img" x="${x0}" y="${y0}" width="${W * PX}" height="${H * PX}"/>`;
  const px = im.pixels || "";
  for (let i = 0; i < H * W; i++) {
    const g = parseInt(px.substr(2 * i, 2), 16);
    if (!(g > 0)) continue;
    s += `<rect class="nbs-att-px" x="${x0 + (i % W) * PX}" y="${y0 + Math.floor(i / W) * PX}" ` +
      `width="${PX}" height="${PX}" style="fill:rgb(${g},${g},${g})"/>`;
  }
  const box = (j, x, y) => {
    const v = vals[j], raw = (col.values || [])[j];
    let out = `<rect class="nbs-att-patch" data-key="${j}" x="${x}" y="${y}" width="${C}" ` +
      `height="${C}" style="fill:${shade(v)}"/>`;
    if (C >= 40 && raw !== null && raw !== undefined) {
      out += `<text class="nbs-att-patch-text" x="${x + C / 2}" y="${y + C / 2 + 4}" ` +
        `text-anchor="middle">${esc(fmt(raw))}</text>`;
    }
    return out;
  };
  let prefixY = y0 + H * PX + 8, prefixX = x0, height = y0 + H * PX + 6;
  const at = []; // where each key's square is drawn
  places.forEach((rc, j) => {
    if (rc) {
      at[j] = [x0 + rc[1] * C, y0 + rc[0] * C];
      s += box(j, ...at[j]);
      return;
    }
    at[j] = [prefixX, prefixY];
    s += `<rect class="nbs-att-prefix-bg" x="${prefixX}" y="${prefixY}" width="${C}" height="${C}"/>` +
      box(j, prefixX, prefixY) + `<text class="nbs-att-prefix" x="${prefixX + C + 4}" ` +
      `y="${prefixY + C / 2 + 4}">${esc(keys[j] ?? "")}</text>`;
    prefixY += C + 6;
    height = prefixY;
  });
  const q = at[im.query_key]; // self-attention: the query is one of the keys
  const outline = q ? `<rect class="nbs-att-qpatch" x="${q[0] + 1.5}" y="${q[1] + 1.5}" ` +
    `width="${C - 3}" height="${C - 3}"/>` : "";
  const prefixW = places.some((rc) => !rc) ? C + 8 + 7 * Math.max(...keys.map((k) => String(k).length)) : 0;
  return { body: s + outline, width: Math.max(W * PX, prefixW), height };
}

// The unrolled chain of an RNN (nblib.widgets.bptt): inputs x_t on top, the states h_0..h_T in a
// row joined by the recurrent arrows, the loss at the end, and under every state a bar, e.g.
// |dL/dh_t|, on one scale for the whole animation (bars.max), so bars keep their size from frame
// to frame. An optional selector (frame.selector) jumps between examples (e.g. two W_hh).
function renderChain(frame) {
  const cells = frame.cells || [];
  const bars = frame.bars || {};
  const vals = bars.values || [];
  const hot = new Set(frame.active || []);
  const hotE = new Set(frame.active_edges || []);
  const labels = frame.edge_labels || {};
  const CW = 100, BW = 78, PAD = 10, XY = 8, XH = 46, HY = 84, HH = 48, BY = 178, PH = 96;
  const n = cells.length + (frame.loss ? 1 : 0);
  const width = PAD * 2 + Math.max(n, 1) * CW, height = BY + PH + 52;
  const left = (i) => PAD + i * CW + (CW - BW) / 2;
  const vname = frame.value_name ? `${frame.value_name} ` : "";
  const arrow = (id, d) => `<path class="nbs-edge nbs-chain-edge${hotE.has(id) ? " nbs-hot" : ""}" ` +
    `data-edge="${esc(id)}" d="${d}" marker-end="url(#${hotE.has(id) ? "nbs-chain-hot" : "nbs-chain-arrow"})"/>`;
  const box = (kind, i, y, h, name, line2, pending) =>
    `<g class="nbs-node nbs-chain-${kind}${hot.has(i) && kind !== "x" ? " nbs-hot" : ""}` +
    `${pending ? " nbs-pending" : ""}" data-index="${i}"><rect x="${left(i)}" y="${y}" width="${BW}" ` +
    `height="${h}" rx="7"/><text class="nbs-name" x="${left(i) + BW / 2}" y="${y + 17}" ` +
    `text-anchor="middle">${esc(name)}</text><text class="nbs-value" x="${left(i) + BW / 2}" ` +
    `y="${y + h - 10}" text-anchor="middle">${esc(line2)}</text></g>`;
  let out = `<svg xmlns="${SVG_NS}" class="nbs-svg" viewBox="0 0 ${width} ${height}" width="${width}" ` +
    `role="img" aria-label="an RNN unrolled in time">` +
    `<defs><marker id="nbs-chain-arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="9" ` +
    `markerHeight="9" markerUnits="userSpaceOnUse" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" class="nbs-arrowhead"/>` +
    `</marker><marker id="nbs-chain-hot" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="9" ` +
    `markerHeight="9" markerUnits="userSpaceOnUse" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" class="nbs-arrowhead-hot"/>` +
    `</marker></defs>`;
  const mid = HY + HH / 2;
  cells.forEach((c, i) => {
    const cx = left(i) + BW / 2;
    if (c.input_name !== undefined && c.input_name !== null) {
      out += box("x", i, XY, XH, c.input_name, fmt(c.input), false);
      out += arrow(`in:${i}`, `M${cx},${XY + XH} L${cx},${HY - 2}`);
    }
    if (i > 0) {
      out += arrow(`rec:${i}`, `M${left(i - 1) + BW},${mid} L${left(i) - 2},${mid}`);
      if (labels[`rec:${i}`]) {
        out += `<text class="nbs-edge-label" x="${left(i) - (CW - BW) / 2}" y="${HY - 8}" ` +
          `text-anchor="middle">${esc(labels[`rec:${i}`])}</text>`;
      }
    }
    const pending = c.value === null || c.value === undefined;
    out += box("h", i, HY, HH, c.name ?? `h${i}`, pending ? "?" : vname + fmt(c.value), pending);
  });
  if (frame.loss) {
    const i = cells.length, L = frame.loss;
    if (i > 0) out += arrow("loss", `M${left(i - 1) + BW},${mid} L${left(i) - 2},${mid}`);
    const pending = L.value === null || L.value === undefined;
    out += box("loss", i, HY, HH, L.name ?? "L", pending ? "?" : fmt(L.value), pending)
      .replace("nbs-chain-loss", `nbs-chain-loss${hotE.has("loss") ? " nbs-hot" : ""}`);
  }
  // The bars, one slot per state; a null value draws no bar (not computed yet).
  const base = BY + PH;
  const top = Math.max(1e-300, bars.max ?? Math.max(0, ...vals.map((v) => Math.abs(v ?? 0))));
  const hl = new Set(bars.highlight || []);
  const BARW = 34;
  out += `<line class="nbs-zero" x1="${left(0)}" x2="${left(Math.max(cells.length - 1, 0)) + BW}" ` +
    `y1="${base}" y2="${base}"/>`;
  cells.forEach((c, i) => {
    const x = left(i) + (BW - BARW) / 2, v = vals[i];
    if (typeof v === "number") {
      const h = Math.max((Math.abs(v) / top) * PH, 0.5);
      out += `<rect class="nbs-bar nbs-chain-bar${hl.has(i) ? " nbs-hot" : ""}" data-index="${i}" ` +
        `x="${x}" y="${base - h}" width="${BARW}" height="${h}"/>` +
        `<text class="nbs-bar-text" x="${x + BARW / 2}" y="${base - h - 4}" text-anchor="middle">${esc(fmt(v))}</text>`;
    }
    const lab = bars.labels ? bars.labels[i] : (c.name ?? i);
    out += `<text class="nbs-axis" x="${x + BARW / 2}" y="${base + 16}" text-anchor="middle">${esc(lab)}</text>`;
  });
  if (bars.name) {
    out += `<text class="nbs-mat-name" x="${left(0)}" y="${base + 40}">${esc(bars.name)}` +
      ` (one scale for every step)</text>`;
  }
  out += "</svg>";
  const sel = frame.selector;
  if (!sel || !(sel.labels || []).length) return out;
  const uid = `nbs-chain-${Math.random().toString(36).slice(2)}`;
  let s = `<div class="nbs-chain-sel" role="group" aria-label="${esc(sel.name || "example")}" ` +
    `style="display:flex;flex-wrap:wrap;align-items:center;gap:4px;margin:0 0 4px">` +
    `<span style="color:var(--nbs-muted)">${esc(sel.name || "example")}</span>`;
  sel.labels.forEach((lab, i) => {
    const on = i === sel.current;
    s += `<button type="button" class="nbs-chain-btn${on ? " nbs-chain-on" : ""}" data-goto="${sel.steps[i]}" ` +
      `aria-pressed="${on}" style="font:inherit;font-size:12px;color:var(--nbs-fg);background:var(--nbs-node-bg);` +
      `border:${on ? 2 : 1}px solid ${on ? "var(--nbs-hot)" : "var(--nbs-border)"};border-radius:4px;` +
      `padding:0 7px;min-height:24px;cursor:pointer;font-weight:${on ? 600 : 400}">${esc(lab)}</button>`;
  });
  queueMicrotask(() => { // wire the buttons once the stage holds them: they move the slider
    const root = document.querySelector(`[data-nbs-chain="${uid}"]`);
    const stepper = root && root.closest(".nbs-stepper");
    const slider = stepper && stepper.querySelector(".nbs-slider");
    if (!slider) return;
    for (const b of root.querySelectorAll("button[data-goto]")) {
      b.addEventListener("click", () => {
        slider.value = b.dataset.goto;
        slider.dispatchEvent(new Event("input"));
        stepper.focus();
      });
    }
  });
  return `<div class="nbs-chain" data-nbs-chain="${uid}">${s}</div>${out}</div>`;
}

const RENDERERS = { graph: renderGraph, matrix: renderMatrix, bars: renderBars, attention: renderAttention, chain: renderChain };

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
