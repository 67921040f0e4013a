"""The handwriting pad's web page: HTML, CSS and JavaScript in one string.

Everything the page needs is inline, so it works with no network at all.
What it does:

  draw   pointer events (mouse, pen, touch) paint white ink with round
         ends on a transparent 280x280 canvas shown on black
  send   while you draw, at most one request at a time and at most one
         every THROTTLE_MS: the ink (the canvas's alpha channel) averaged
         over 4x4 blocks to 70x70 values 0-255, POSTed to /predict as
         {"pixels": rows}; an empty pad is not sent
  show   the ten probabilities as bars, the top guess in large type, and
         the 28x28 image the model saw (the server's preprocessing)

For tests and demonstrations, window.pad offers whenIdle() (a promise
resolved when no drawing is waiting for an answer and the last answer is
shown) and paint(rows) (clears the pad, paints an image of ink values 0-255
scaled to the whole pad, and goes through the same send-and-show path as
drawing, without waiting out the throttle; resolves when the answer is
shown).

 html_bytes = render(model_name, checkpoint_name, step)
"""

import html

CONTENT_SECURITY_POLICY = (  # The page may load nothing from elsewhere.
    "default-src 'self'; script-src 'unsafe-inline'; "
    "style-src 'unsafe-inline'; img-src 'self' data:")

PAGE = r"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:,">
<title>Handwriting pad</title>
<style>
  body { font-family: system-ui, sans-serif; margin: 16px; color: #222;
         background: #f4f4f4; }
  h1 { font-size: 1.4em; margin: 0 0 4px; }
  #status { color: #555; margin: 0 0 12px; }
  main { display: flex; flex-wrap: wrap; gap: 28px; align-items: flex-start; }
  #pad { width: 280px; height: 280px; background: #000; border-radius: 6px;
         touch-action: none; cursor: crosshair; display: block; }
  button { margin-top: 8px; font-size: 1em; padding: 6px 20px; }
  #guess { font-size: 72px; font-weight: bold; line-height: 1; }
  #confidence { color: #555; margin-bottom: 10px; }
  .row { display: flex; align-items: center; gap: 8px; height: 22px;
         font-variant-numeric: tabular-nums; }
  .digit { width: 1em; text-align: right; }
  .bar { width: 200px; height: 14px; background: #ddd; border-radius: 3px;
         overflow: hidden; }
  .fill { height: 100%; width: 0; background: #6a8fc7; }
  .row.top { font-weight: bold; }
  .row.top .fill { background: #e07020; }
  .pct { width: 4em; text-align: right; }
  #seen { width: 112px; height: 112px; image-rendering: pixelated;
          background: #000; border-radius: 4px; display: block;
          margin-top: 6px; }
  #error { color: #b00020; }
</style>
</head>
<body>
<h1>Handwriting pad</h1>
<p id="status">Draw a digit (0-9) in the black square with the mouse, a pen
or a finger. Model: {{MODEL}}.</p>
<main>
  <section>
    <canvas id="pad" width="280" height="280"
            aria-label="Drawing pad"></canvas>
    <button id="clear" type="button">Clear</button>
  </section>
  <section aria-live="polite">
    <div id="guess" data-seq="0">?</div>
    <div id="confidence">Draw a digit</div>
    <div id="bars"></div>
  </section>
  <section>
    <div>What the model sees (28x28)</div>
    <canvas id="seen" width="28" height="28"></canvas>
  </section>
</main>
<p id="error" role="alert"></p>
<script>
'use strict';
(function () {
  const SIDE = 280;         // Canvas pixels a side.
  const FACTOR = 4;         // Sent: SIDE / FACTOR = 70 values a side.
  const THROTTLE_MS = 150;  // At most one request this often.
  const PEN = 20;           // Stroke width: MNIST strokes are thick.

  const pad = document.getElementById('pad');
  const ctx = pad.getContext('2d', {willReadFrequently: true});
  const seen = document.getElementById('seen').getContext('2d');
  const guessEl = document.getElementById('guess');
  const confidenceEl = document.getElementById('confidence');
  const errorEl = document.getElementById('error');
  const bars = [];
  for (let d = 0; d < 10; d++) {
    const row = document.createElement('div');
    row.className = 'row';
    row.innerHTML = '<span class="digit">' + d + '</span><div class="bar">' +
        '<div class="fill"></div></div><span class="pct">0.0%</span>';
    document.getElementById('bars').appendChild(row);
    bars.push({row: row, fill: row.querySelector('.fill'),
               pct: row.querySelector('.pct')});
  }
  ctx.lineCap = 'round';
  ctx.lineJoin = 'round';
  ctx.lineWidth = PEN;
  ctx.strokeStyle = '#fff';

  // Drawing. Pointer events cover mouse, pen and touch alike; capture keeps
  // the stroke going when it leaves the canvas.
  let drawing = false, last = null;
  function point(e) {
    const r = pad.getBoundingClientRect();
    return [(e.clientX - r.left) * pad.width / r.width,
            (e.clientY - r.top) * pad.height / r.height];
  }
  pad.addEventListener('pointerdown', function (e) {
    e.preventDefault();
    drawing = true;
    pad.setPointerCapture(e.pointerId);
    last = point(e);
    ctx.fillStyle = '#fff';
    ctx.beginPath();
    ctx.arc(last[0], last[1], PEN / 2, 0, 2 * Math.PI);
    ctx.fill();
    requestUpdate();
  });
  pad.addEventListener('pointermove', function (e) {
    if (!drawing) return;
    e.preventDefault();
    // Fast strokes deliver several positions per event.
    const all = e.getCoalescedEvents ? e.getCoalescedEvents() : [];
    ctx.beginPath();
    ctx.moveTo(last[0], last[1]);
    for (const ev of (all.length ? all : [e])) {
      last = point(ev);
      ctx.lineTo(last[0], last[1]);
    }
    ctx.stroke();
    requestUpdate();
  });
  function stop() {
    if (!drawing) return;
    drawing = false;
    requestUpdate();
  }
  pad.addEventListener('pointerup', stop);
  pad.addEventListener('pointercancel', stop);

  // The ink (alpha) averaged over FACTOR x FACTOR blocks; null if empty.
  function readPixels() {
    const data = ctx.getImageData(0, 0, SIDE, SIDE).data;
    const n = SIDE / FACTOR, rows = [];
    let any = false;
    for (let y = 0; y < n; y++) {
      const row = new Array(n);
      for (let x = 0; x < n; x++) {
        let sum = 0;
        for (let dy = 0; dy < FACTOR; dy++) {
          let i = ((y * FACTOR + dy) * SIDE + x * FACTOR) * 4 + 3;
          for (let dx = 0; dx < FACTOR; dx++, i += 4) sum += data[i];
        }
        row[x] = Math.round(sum / (FACTOR * FACTOR));
        if (row[x]) any = true;
      }
      rows.push(row);
    }
    return any ? rows : null;
  }

  // Sending: one request in flight; new ink while waiting marks the pad
  // dirty and is sent when the answer is in (and THROTTLE_MS have passed).
  let inFlight = false, dirty = false, timer = null;
  let lastSent = -Infinity, seq = 0, cleared = 0;
  const idleWaiters = [];
  function requestUpdate() {
    dirty = true;
    pump();
  }
  function pump() {
    if (!inFlight && !timer && dirty) {
      const wait = lastSent + THROTTLE_MS - performance.now();
      if (wait > 0) {
        timer = setTimeout(function () { timer = null; pump(); }, wait);
      } else {
        send();
      }
    }
    if (!inFlight && !timer && !dirty) {
      while (idleWaiters.length) idleWaiters.shift()();
    }
  }
  async function send() {
    dirty = false;
    inFlight = true;
    lastSent = performance.now();
    const id = ++seq;
    try {
      const pixels = readPixels();
      if (!pixels) {
        showEmpty();
      } else {
        const response = await fetch('/predict', {
            method: 'POST', headers: {'Content-Type': 'application/json'},
            body: JSON.stringify({pixels: pixels})});
        const answer = await response.json();
        if (!response.ok) throw new Error(answer.error || response.status);
        if (id > cleared) show(answer);  // Not an answer about old ink.
      }
      errorEl.textContent = '';
    } catch (err) {
      errorEl.textContent = 'Cannot classify: ' + err.message;
    } finally {
      guessEl.dataset.seq = String(id);
      inFlight = false;
      pump();
    }
  }

  function show(answer) {
    const p = answer.probabilities, top = answer.prediction;
    bars.forEach(function (bar, d) {
      const percent = (100 * p[d]).toFixed(1) + '%';
      bar.fill.style.width = percent;
      bar.pct.textContent = percent;
      bar.row.classList.toggle('top', d === top);
    });
    guessEl.textContent = String(top);
    confidenceEl.textContent = (100 * p[top]).toFixed(1) + '% sure';
    const image = seen.createImageData(28, 28);
    for (let y = 0; y < 28; y++) {
      for (let x = 0; x < 28; x++) {
        const i = (y * 28 + x) * 4, v = Math.round(255 * answer.image[y][x]);
        image.data[i] = image.data[i + 1] = image.data[i + 2] = v;
        image.data[i + 3] = 255;
      }
    }
    seen.putImageData(image, 0, 0);
  }
  function showEmpty() {
    bars.forEach(function (bar) {
      bar.fill.style.width = '0';
      bar.pct.textContent = '0.0%';
      bar.row.classList.remove('top');
    });
    guessEl.textContent = '?';
    confidenceEl.textContent = 'Draw a digit';
    seen.clearRect(0, 0, 28, 28);
  }

  function clear() {
    ctx.clearRect(0, 0, SIDE, SIDE);
    cleared = seq;  // Answers still on their way are about old ink.
    showEmpty();
    requestUpdate();
  }
  document.getElementById('clear').addEventListener('click', clear);

  window.pad = {
    whenIdle: function () {
      return new Promise(function (resolve) {
        idleWaiters.push(resolve);
        pump();
      });
    },
    paint: function (rows) {
      ctx.clearRect(0, 0, SIDE, SIDE);
      cleared = seq;
      const h = rows.length, w = rows[0].length;
      const sy = SIDE / h, sx = SIDE / w;
      for (let y = 0; y < h; y++) {
        for (let x = 0; x < w; x++) {
          if (!rows[y][x]) continue;
          ctx.fillStyle = 'rgba(255, 255, 255, ' + rows[y][x] / 255 + ')';
          ctx.fillRect(x * sx, y * sy, sx, sy);
        }
      }
      // One deliberate update, not a stroke: no need to wait out the
      // throttle (a test paints hundreds of digits one after another).
      lastSent = -Infinity;
      requestUpdate();
      return this.whenIdle();
    },
  };
})();
</script>
</body>
</html>
"""


def render(model_name, checkpoint_name, step=None):
  """The page, naming the model it talks to.

  Args:
    model_name: e.g. 'mnist_deep'.
    checkpoint_name: e.g. 'model.ckpt-2000'.
    step: the checkpoint's global step, or None.

  Returns:
    The page as UTF-8 bytes.
  """
  info = '%s, %s' % (model_name, checkpoint_name)
  if step is not None:
    info += ' (step %d)' % step
  return PAGE.replace('{{MODEL}}', html.escape(info)).encode('utf-8')
