// The flame graph's script, built into every SVG by src/formats/svg.c: hover
// details, click-to-zoom, reset and regex search, with search and zoom kept in
// the URL (?s=REGEX&x=OFFSET:DEPTH) so that a reload or a shared link shows the
// same view. Plain ES5 so that any SVG viewer runs it. It reads the frames
// svg.c drew and the arrays thin and thin_labels (frames too narrow to draw)
// that svg.c writes before it. The build leaves out these lines, up to the
// first blank line; the SVG holds the rest as it is.

'use strict';
var svg = document.documentElement, frames = [], total = 0, zoomed = null, term = null;
var W = +svg.getAttribute('data-plot-width'), X0 = +svg.getAttribute('data-pad');
var CW = +svg.getAttribute('data-char-width'), FH = +svg.getAttribute('data-frame-height');
var DRAW = +svg.getAttribute('data-draw-width'), DY = svg.getAttribute('data-reverse') === '1' ? FH : -FH;
var SVGNS = 'http://www.w3.org/2000/svg';
function $(id) { return document.getElementById(id); }
function init() {
  var gs = document.getElementsByClassName('f');
  for (var i = 0; i < gs.length; i++) {
    var g = gs[i], t = g.firstChild.textContent;
    g.pcpIndex = i;
    frames.push({g: g, rect: g.childNodes[1], text: g.childNodes[2] || null,
      x: +g.getAttribute('data-x'), w: +g.getAttribute('data-w'), d: +g.getAttribute('data-d'),
      merged: g.classList.contains('m'), title: t,
      label: t.replace(/ \([0-9,]+ samples?, [0-9.]+%[^()]*\)$/, '')});
  }
  total = frames.length ? frames[0].w : 0;
  /* Frames too thin to draw at full width: drawn by layout() once wide enough. */
  for (i = 0; i < thin.length; i++) {
    var r = thin[i], label = typeof r[3] === 'number' ? thin_labels[r[3]] : r[3];
    frames.push({g: null, rect: null, text: null, x: r[0], w: r[1], d: r[2], fill: r[4], merged: r[5] === 1,
      label: label, hit: false, title: label + ' (' + r[1] + ' sample' + (r[1] === 1 ? '' : 's') + ', ' +
      (total ? 100 * r[1] / total : 0).toFixed(2) + '%' + (r[6] || '') + ')'});
  }
  /* One listener for all frames: a profile may draw tens of thousands. */
  function frame_of(e) { var g = e.target.closest ? e.target.closest('g.f') : null; return g ? frames[g.pcpIndex] : null; }
  var all = $('frames');
  all.addEventListener('click', function (e) { var f = frame_of(e); if (f) { zoom(f); save(); } });
  all.addEventListener('mouseover', function (e) { var f = frame_of(e); if (f) $('details').textContent = f.title; });
  all.addEventListener('mouseout', function () { $('details').textContent = ' '; });
  $('reset').addEventListener('click', function () { reset(); save(); });
  $('search').addEventListener('click', function () { search_prompt(); });
  $('clear').addEventListener('click', function () { search(null); save(); });
  window.addEventListener('keydown', function (e) {
    if ((e.ctrlKey || e.metaKey) && e.keyCode === 70) { e.preventDefault(); search_prompt(); }
    else if (e.keyCode === 27) { reset(); search(null); save(); }
  });
  var params = new URLSearchParams(window.location.search), x = params.get('x');
  if (x) {
    var at = x.split(':');
    for (i = 0; i < frames.length; i++)
      if (frames[i].x === +at[0] && frames[i].d === +at[1]) { zoom(frames[i]); break; }
  }
  if (params.get('s')) search(params.get('s'));
}
function save() {
  var params = new URLSearchParams(window.location.search);
  if (term) params.set('s', term); else params.delete('s');
  if (zoomed) params.set('x', zoomed.x + ':' + zoomed.d); else params.delete('x');
  var q = params.toString();
  try { history.replaceState(null, '', window.location.pathname + (q ? '?' + q : '') + window.location.hash); }
  catch (e) { /* a viewer without history: the view just is not kept */ }
}
function fit(f, x, width) {
  var n = Math.floor((width - 6) / CW), s = f.label;
  if (!f.text) {
    if (n < 3) return;
    f.text = document.createElementNS('http://www.w3.org/2000/svg', 'text');
    f.text.setAttribute('y', (+f.rect.getAttribute('y') + FH - 4.5).toFixed(1)); f.g.appendChild(f.text);
  }
  f.text.setAttribute('x', (x + 3).toFixed(1));
  f.text.textContent = n < 3 ? '' : (s.length <= n ? s : s.substring(0, n - 2) + '..');
}
function draw(f, i) {
  var g = document.createElementNS(SVGNS, 'g'), t = document.createElementNS(SVGNS, 'title');
  var r = document.createElementNS(SVGNS, 'rect');
  g.setAttribute('class', f.merged ? 'f m' : 'f'); g.pcpIndex = i;
  g.setAttribute('data-x', f.x); g.setAttribute('data-w', f.w); g.setAttribute('data-d', f.d);
  t.textContent = f.title;
  r.setAttribute('y', (+frames[0].rect.getAttribute('y') + f.d * DY).toFixed(1));
  r.setAttribute('height', FH - 1); r.setAttribute('rx', 2); r.setAttribute('ry', 2);
  r.setAttribute('fill', f.hit ? 'rgb(230,0,230)' : f.fill);
  if (f.hit) { r.setAttribute('data-fill', f.fill); g.classList.add('match'); }
  g.appendChild(t); g.appendChild(r); $('frames').appendChild(g);
  f.g = g; f.rect = r;
}
function layout(x0, w0, d0) {
  for (var i = 0; i < frames.length; i++) {
    var f = frames[i], inside = f.x >= x0 && f.x + f.w <= x0 + w0;
    var above = f.d < d0 && f.x <= x0 && f.x + f.w >= x0 + w0;
    if (inside && f.d >= d0 || above) {
      var x = above ? X0 : X0 + (f.x - x0) / w0 * W, w = above ? W : f.w / w0 * W;
      if (!f.g) { if (w < DRAW) continue; draw(f, i); }
      f.g.style.display = ''; f.rect.setAttribute('x', x.toFixed(1)); f.rect.setAttribute('width', w.toFixed(1));
      fit(f, x, w);
      f.g.style.opacity = above && f.d > 0 ? '0.6' : '';
    } else if (f.g) { f.g.style.display = 'none'; }
  }
}
function zoom(f) {
  zoomed = f; layout(f.x, f.w, f.d); $('reset').style.opacity = '1';
}
function reset() {
  zoomed = null; layout(0, total, 0); $('reset').style.opacity = '0';
}
function search_prompt() {
  var t = prompt('Search for (regular expression):', term || '');
  if (t !== null) { search(t); save(); }
}
function search(t) {
  var re = null, spans = [], i;
  if (t) { try { re = new RegExp(t); } catch (e) { re = null; } }
  term = re ? t : null;
  for (i = 0; i < frames.length; i++) {
    var f = frames[i], hit = re !== null && f.d > 0 && !f.merged && re.test(f.label);
    f.hit = hit;
    if (!f.g) { if (hit) spans.push([f.x, f.x + f.w]); continue; }
    if (hit) { f.rect.setAttribute('data-fill', f.rect.getAttribute('data-fill') || f.rect.getAttribute('fill'));
      f.rect.setAttribute('fill', 'rgb(230,0,230)'); f.g.classList.add('match'); spans.push([f.x, f.x + f.w]); }
    else { if (f.rect.getAttribute('data-fill')) f.rect.setAttribute('fill', f.rect.getAttribute('data-fill'));
      f.g.classList.remove('match'); }
  }
  spans.sort(function (a, b) { return a[0] - b[0]; });
  var matched = 0, end = -1;
  for (i = 0; i < spans.length; i++) {
    if (spans[i][0] >= end) { matched += spans[i][1] - spans[i][0]; end = spans[i][1]; }
    else if (spans[i][1] > end) { matched += spans[i][1] - end; end = spans[i][1]; }
  }
  var pct = total ? 100 * matched / total : 0;
  $('matched').textContent = re ? 'Matched: ' + pct.toFixed(1) + '%' : ' ';
  $('matched').setAttribute('data-percent', re ? pct.toFixed(4) : '');
  $('clear').style.opacity = re ? '1' : '0';
}
init();
