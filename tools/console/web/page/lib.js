// The OTA console page's helpers: DOM building without HTML parsing, and the API client.
//
// Why apart from app.js: these know nothing of the views; app.js (loaded after this file) builds
// the views from them. Every text goes through text nodes, so data from devices is never HTML.
'use strict';

const API = '/api/v1';
const TOKEN_KEY = 'ota_console_token';

const $ = (id) => document.getElementById(id);

/** Creates an element; attrs set as attributes (or properties for on*), children as text or nodes. */
function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on')) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children) {
    if (c === undefined || c === null) continue;
    node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return node;
}

/** Same for SVG elements (the version chart). */
function svg(tag, attrs, ...children) {
  const node = document.createElementNS('http://www.w3.org/2000/svg', tag);
  for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, String(v));
  for (const c of children) node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return node;
}

function clear(node) { while (node.firstChild) node.removeChild(node.firstChild); }
function when(ms) { return ms ? new Date(ms).toLocaleString() : ''; }
function bytes(n) {
  if (n >= 1048576) return (n / 1048576).toFixed(1) + ' MiB';
  if (n >= 1024) return (n / 1024).toFixed(1) + ' KiB';
  return n + ' B';
}
function words(text) { return text.split(/[\s,;]+/).map((s) => s.trim()).filter((s) => s); }

// ---- messages --------------------------------------------------------------------------------
let messageTimer = null;
/** Shows a short message (kind "error" or "info") above the views. */
function say(text, kind) {
  const m = $('message');
  m.textContent = text;
  m.className = kind || 'info';
  m.hidden = false;
  clearTimeout(messageTimer);
  messageTimer = setTimeout(() => { m.hidden = true; }, kind === 'error' ? 15000 : 5000);
}

// ---- the API ---------------------------------------------------------------------------------
function token() { return sessionStorage.getItem(TOKEN_KEY) || ''; }

/** An API failure: the server's {"code","message"} and the HTTP status. */
class ApiError extends Error {
  constructor(status, code, message) { super(message); this.status = status; this.code = code; }
}

function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params || {})) {
    if (v !== undefined && v !== null && v !== '') q.set(k, String(v));
  }
  const s = q.toString();
  return s ? '?' + s : '';
}

/** Calls the API; resolves to the parsed JSON answer, rejects with ApiError. */
async function api(method, path, opts) {
  opts = opts || {};
  const headers = { Authorization: 'Bearer ' + token() };
  let body;
  if (opts.json !== undefined) {
    headers['Content-Type'] = 'application/json';
    body = JSON.stringify(opts.json);
  } else if (method === 'POST') {
    body = '';
  }
  let res;
  try {
    res = await fetch(API + path + query(opts.query), { method, headers, body });
  } catch (e) {
    throw new ApiError(0, 'unreachable', 'the console does not answer (' + e.message + ')');
  }
  return parseAnswer(res.status, await res.text());
}

function parseAnswer(status, text) {
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch (e) { data = null; }
  if (status >= 200 && status < 300) return data;
  const code = data && data.code ? data.code : 'http_' + status;
  const message = data && data.message ? data.message : text.slice(0, 200);
  if (status === 401) askToken('The token was refused: ' + message);
  throw new ApiError(status, code, message);
}

/** Reports a failed call; a refused token was already reported when the page asked for a new one. */
function fail(e) {
  if (e.status === 401) return;
  say((e.code ? e.code + ': ' : '') + e.message, 'error');
}

/** Uploads an image with XMLHttpRequest (fetch has no upload progress). */
function upload(path, params, file, onProgress) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open('POST', API + path + query(params));
    xhr.setRequestHeader('Authorization', 'Bearer ' + token());
    xhr.setRequestHeader('Content-Type', 'application/octet-stream');
    xhr.upload.onprogress = (ev) => { if (ev.lengthComputable) onProgress(ev.loaded / ev.total); };
    xhr.onload = () => {
      try { resolve(parseAnswer(xhr.status, xhr.responseText)); } catch (e) { reject(e); }
    };
    xhr.onerror = () => reject(new ApiError(0, 'unreachable', 'the upload failed (network)'));
    xhr.send(file);
  });
}

