// recmv report: a small WebGL viewer of per-frame garment meshes.
// Reads the JSON in <script id="recmv-meshes">: per garment, its colour, quantised vertex positions per
// frame (base64 uint16, with an origin and a scale) and its faces (base64 uint32, shared or per frame).
// Orbit by dragging, zoom with the wheel, play/pause and a frame slider. Draws only when something changes.
(function () {
  "use strict";

  function decodeBase64(text) {
    var binary = atob(text);
    var bytes = new Uint8Array(binary.length);
    for (var i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
    return bytes.buffer;
  }

  // Column-major 4x4 matrices, as WebGL expects them.
  function multiply(a, b) {
    var out = new Float32Array(16);
    for (var col = 0; col < 4; col++) {
      for (var row = 0; row < 4; row++) {
        var sum = 0;
        for (var k = 0; k < 4; k++) sum += a[k * 4 + row] * b[col * 4 + k];
        out[col * 4 + row] = sum;
      }
    }
    return out;
  }

  function perspective(fovY, aspect, near, far) {
    var f = 1 / Math.tan(fovY / 2);
    var out = new Float32Array(16);
    out[0] = f / aspect;
    out[5] = f;
    out[10] = (far + near) / (near - far);
    out[11] = -1;
    out[14] = (2 * far * near) / (near - far);
    return out;
  }

  // A camera at `distance` from `target`, turned by yaw about the up axis and pitch above the horizon.
  function orbitView(target, yaw, pitch, distance) {
    var cy = Math.cos(yaw), sy = Math.sin(yaw), cp = Math.cos(pitch), sp = Math.sin(pitch);
    var eye = [target[0] + distance * cp * sy, target[1] + distance * sp, target[2] + distance * cp * cy];
    var z = normalise([eye[0] - target[0], eye[1] - target[1], eye[2] - target[2]]);
    var x = normalise(cross([0, 1, 0], z));
    var y = cross(z, x);
    return new Float32Array([
      x[0], y[0], z[0], 0,
      x[1], y[1], z[1], 0,
      x[2], y[2], z[2], 0,
      -dot(x, eye), -dot(y, eye), -dot(z, eye), 1,
    ]);
  }

  function cross(a, b) { return [a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]]; }
  function dot(a, b) { return a[0] * b[0] + a[1] * b[1] + a[2] * b[2]; }
  function normalise(a) { var n = Math.hypot(a[0], a[1], a[2]) || 1; return [a[0] / n, a[1] / n, a[2] / n]; }

  // Quantised positions -> display coordinates. The data is in the subject's world frame (OpenCV: y down,
  // z away from the camera); turning it 180 degrees about x shows the person upright, seen from the camera.
  function positionsOf(garment, slot) {
    var q = new Uint16Array(decodeBase64(garment.positions[slot]));
    var out = new Float32Array(q.length);
    var o = garment.origin, s = garment.scale, sign = [1, -1, -1];
    for (var i = 0; i < q.length; i++) {
      var axis = i % 3;
      out[i] = sign[axis] * (o[axis] + q[i] * s[axis]);
    }
    return out;
  }

  function vertexNormals(positions, faces) {
    var normals = new Float32Array(positions.length);
    for (var f = 0; f < faces.length; f += 3) {
      var a = faces[f] * 3, b = faces[f + 1] * 3, c = faces[f + 2] * 3;
      var e1 = [positions[b] - positions[a], positions[b + 1] - positions[a + 1], positions[b + 2] - positions[a + 2]];
      var e2 = [positions[c] - positions[a], positions[c + 1] - positions[a + 1], positions[c + 2] - positions[a + 2]];
      var n = cross(e1, e2);
      for (var corner = 0; corner < 3; corner++) {
        var v = faces[f + corner] * 3;
        normals[v] += n[0]; normals[v + 1] += n[1]; normals[v + 2] += n[2];
      }
    }
    for (var i = 0; i < normals.length; i += 3) {
      var m = normalise([normals[i], normals[i + 1], normals[i + 2]]);
      normals[i] = m[0]; normals[i + 1] = m[1]; normals[i + 2] = m[2];
    }
    return normals;
  }

  var VERTEX_SHADER = [
    "attribute vec3 position;",
    "attribute vec3 normal;",
    "uniform mat4 view;",
    "uniform mat4 projection;",
    "varying vec3 viewNormal;",
    "void main() {",
    "  viewNormal = mat3(view) * normal;",
    "  gl_Position = projection * view * vec4(position, 1.0);",
    "}",
  ].join("\n");

  // Two-sided Lambert: open garments show their inside too. The light sits above and left of the eye.
  var FRAGMENT_SHADER = [
    "precision mediump float;",
    "uniform vec3 colour;",
    "varying vec3 viewNormal;",
    "void main() {",
    "  vec3 light = normalize(vec3(-0.4, 0.6, 1.0));",
    "  float lambert = abs(dot(normalize(viewNormal), light));",
    "  gl_FragColor = vec4(colour * (0.3 + 0.7 * lambert), 1.0);",
    "}",
  ].join("\n");

  function compile(gl, type, source) {
    var shader = gl.createShader(type);
    gl.shaderSource(shader, source);
    gl.compileShader(shader);
    if (!gl.getShaderParameter(shader, gl.COMPILE_STATUS)) throw new Error(gl.getShaderInfoLog(shader));
    return shader;
  }

  function program(gl) {
    var p = gl.createProgram();
    gl.attachShader(p, compile(gl, gl.VERTEX_SHADER, VERTEX_SHADER));
    gl.attachShader(p, compile(gl, gl.FRAGMENT_SHADER, FRAGMENT_SHADER));
    gl.linkProgram(p);
    if (!gl.getProgramParameter(p, gl.LINK_STATUS)) throw new Error(gl.getProgramInfoLog(p));
    return p;
  }

  function hexColour(hex) {
    return [1, 3, 5].map(function (i) { return parseInt(hex.substr(i, 2), 16) / 255; });
  }

  function Viewer(root, data) {
    this.root = root;
    this.data = data;
    this.canvas = root.querySelector("canvas");
    this.slider = root.querySelector(".frame-slider");
    this.label = root.querySelector(".frame-label");
    this.playButton = root.querySelector(".play");
    this.frame = 0;
    this.yaw = 0;
    this.pitch = 0.15;
    this.playing = false;
    this.pending = false;
    this.cache = {};
    this.hidden = {};
    var gl = this.canvas.getContext("webgl", { antialias: true, preserveDrawingBuffer: true });
    if (!gl) throw new Error("WebGL is not available in this browser");
    if (!gl.getExtension("OES_element_index_uint")) throw new Error("WebGL lacks 32-bit indices");
    this.gl = gl;
    this.program = program(gl);
    this.buffers = { position: gl.createBuffer(), normal: gl.createBuffer(), index: gl.createBuffer() };
    this.fitBounds();
    this.bind();
    this.slider.max = String(data.frames.length - 1);
    this.setFrame(0);
  }

  // Orbit around the centre of every frame's vertices, far enough to see them all.
  Viewer.prototype.fitBounds = function () {
    var lo = [Infinity, Infinity, Infinity], hi = [-Infinity, -Infinity, -Infinity];
    this.data.garments.forEach(function (g) {
      for (var axis = 0; axis < 3; axis++) {
        var sign = axis === 0 ? 1 : -1;
        var a = sign * g.origin[axis], b = sign * (g.origin[axis] + 65535 * g.scale[axis]);
        lo[axis] = Math.min(lo[axis], a, b);
        hi[axis] = Math.max(hi[axis], a, b);
      }
    });
    this.target = [0, 1, 2].map(function (i) { return 0.5 * (lo[i] + hi[i]); });
    var radius = 0.5 * Math.hypot(hi[0] - lo[0], hi[1] - lo[1], hi[2] - lo[2]);
    this.distance = Math.max(radius, 1e-3) / Math.sin((35 * Math.PI) / 360) * 1.05;
  };

  Viewer.prototype.bind = function () {
    var self = this, dragging = null;
    this.slider.addEventListener("input", function () { self.setFrame(parseInt(self.slider.value, 10)); });
    this.playButton.addEventListener("click", function () { self.setPlaying(!self.playing); });
    this.canvas.addEventListener("mousedown", function (e) { dragging = [e.clientX, e.clientY]; });
    window.addEventListener("mouseup", function () { dragging = null; });
    window.addEventListener("mousemove", function (e) {
      if (!dragging) return;
      self.yaw -= (e.clientX - dragging[0]) * 0.01;
      self.pitch = Math.max(-1.5, Math.min(1.5, self.pitch + (e.clientY - dragging[1]) * 0.01));
      dragging = [e.clientX, e.clientY];
      self.requestDraw();
    });
    this.canvas.addEventListener("wheel", function (e) {
      e.preventDefault();
      self.distance *= Math.exp(e.deltaY * 0.001);
      self.requestDraw();
    }, { passive: false });
    this.root.querySelectorAll(".garment-toggle").forEach(function (box) {
      box.addEventListener("change", function () { self.hidden[box.value] = !box.checked; self.requestDraw(); });
    });
  };

  Viewer.prototype.setFrame = function (index) {
    var count = this.data.frames.length;
    this.frame = ((index % count) + count) % count;
    this.slider.value = String(this.frame);
    this.label.textContent = "frame " + this.data.frames[this.frame] + " (" + (this.frame + 1) + " / " + count + ")";
    this.requestDraw();
  };

  Viewer.prototype.setPlaying = function (playing) {
    var self = this;
    this.playing = playing;
    this.playButton.textContent = playing ? "pause" : "play";
    if (this.timer) clearInterval(this.timer);
    this.timer = playing ? setInterval(function () { self.setFrame(self.frame + 1); }, 1000 / this.data.fps) : null;
  };

  Viewer.prototype.requestDraw = function () {
    var self = this;
    if (this.pending) return;
    this.pending = true;
    requestAnimationFrame(function () { self.pending = false; self.draw(); });
  };

  // Decoded positions, normals and faces of garment g at the current frame (null if it has none there).
  Viewer.prototype.mesh = function (g) {
    var garment = this.data.garments[g];
    var slot = garment.frames.indexOf(this.data.frames[this.frame]);
    if (slot < 0) return null;
    var key = g + ":" + slot;
    if (!this.cache[key]) {
      var faces = new Uint32Array(decodeBase64(garment.faces[garment.faces.length === 1 ? 0 : slot]));
      var positions = positionsOf(garment, slot);
      this.cache[key] = { positions: positions, normals: vertexNormals(positions, faces), faces: faces };
    }
    return this.cache[key];
  };

  Viewer.prototype.draw = function () {
    var gl = this.gl, p = this.program;
    var width = this.canvas.clientWidth, height = this.canvas.clientHeight;
    if (this.canvas.width !== width || this.canvas.height !== height) {
      this.canvas.width = width;
      this.canvas.height = height;
    }
    gl.viewport(0, 0, width, height);
    var bg = hexColour(this.data.background);
    gl.clearColor(bg[0], bg[1], bg[2], 1);
    gl.clear(gl.COLOR_BUFFER_BIT | gl.DEPTH_BUFFER_BIT);
    gl.enable(gl.DEPTH_TEST);
    gl.useProgram(p);
    var view = orbitView(this.target, this.yaw, this.pitch, this.distance);
    var projection = perspective((35 * Math.PI) / 180, width / Math.max(height, 1), this.distance * 0.01, this.distance * 10);
    gl.uniformMatrix4fv(gl.getUniformLocation(p, "view"), false, view);
    gl.uniformMatrix4fv(gl.getUniformLocation(p, "projection"), false, projection);
    var position = gl.getAttribLocation(p, "position"), normal = gl.getAttribLocation(p, "normal");
    for (var g = 0; g < this.data.garments.length; g++) {
      var garment = this.data.garments[g];
      var mesh = this.hidden[garment.name] ? null : this.mesh(g);
      if (!mesh) continue;
      gl.uniform3fv(gl.getUniformLocation(p, "colour"), hexColour(garment.colour));
      gl.bindBuffer(gl.ARRAY_BUFFER, this.buffers.position);
      gl.bufferData(gl.ARRAY_BUFFER, mesh.positions, gl.DYNAMIC_DRAW);
      gl.enableVertexAttribArray(position);
      gl.vertexAttribPointer(position, 3, gl.FLOAT, false, 0, 0);
      gl.bindBuffer(gl.ARRAY_BUFFER, this.buffers.normal);
      gl.bufferData(gl.ARRAY_BUFFER, mesh.normals, gl.DYNAMIC_DRAW);
      gl.enableVertexAttribArray(normal);
      gl.vertexAttribPointer(normal, 3, gl.FLOAT, false, 0, 0);
      gl.bindBuffer(gl.ELEMENT_ARRAY_BUFFER, this.buffers.index);
      gl.bufferData(gl.ELEMENT_ARRAY_BUFFER, mesh.faces, gl.DYNAMIC_DRAW);
      gl.drawElements(gl.TRIANGLES, mesh.faces.length, gl.UNSIGNED_INT, 0);
    }
    // Lets a test (or a curious reader) see which frame is on the canvas.
    this.canvas.dataset.drawnFrame = String(this.frame);
  };

  function start() {
    var root = document.getElementById("viewer");
    var source = document.getElementById("recmv-meshes");
    if (!root || !source) return;
    try {
      window.recmvViewer = new Viewer(root, JSON.parse(source.textContent));
    } catch (error) {
      root.querySelector(".viewer-message").textContent = "The 3D viewer cannot run here: " + error.message;
    }
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
