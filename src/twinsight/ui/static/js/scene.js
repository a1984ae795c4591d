// The plant in 3D: every machine of the twin graph placed on its line (lines side by side,
// machines in `position` order), drawn by its DTDL model's shape, coloured by its live
// temperature, turning while it runs, blinking on an alarm; `feeds` drawn as pipes.
// Orbit and zoom with the mouse; a click on a machine selects it.

import * as THREE from "three";
import { OrbitControls } from "three/addons/controls/OrbitControls.js";
import { buildShape, shapeWidth } from "./shapes.js";
import { heatColor, machineLook } from "./look.js";

const LINE_GAP = 5;
const MACHINE_GAP = 0.6;
const COLUMN_GAP = 4;
const CLICK_SLOP_PX = 5;
const LABEL_DISTANCE = 40;
const FRAME_MS = 1000 / 30;

/** How many lines to stack before starting another column, so a big plant stays about
 *  half again as wide as it is deep (it fits the view) instead of one long strip. */
function rowsPerColumn(rows, lineLength) {
  let best = rows;
  let bestError = Infinity;
  for (let columns = 1; columns <= rows; columns += 1) {
    const perColumn = Math.ceil(rows / columns);
    const ratio = (columns * (lineLength + COLUMN_GAP)) / (perColumn * LINE_GAP);
    const error = Math.abs(Math.log(ratio / 1.5));
    if (error < bestError) [best, bestError] = [perColumn, error];
  }
  return best;
}

export class PlantScene {
  constructor(canvas, labels, { onSelect }) {
    this.canvas = canvas;
    this.labels = labels;
    this.onSelect = onSelect;
    this.machines = new Map();
    this.selected = null;
    // the context index.html asked for early, if the browser gave one
    this.renderer = new THREE.WebGLRenderer({ canvas, context: window.twinsightGL ?? undefined, antialias: false });
    this.renderer.setPixelRatio(Math.min(window.devicePixelRatio, 2));
    this.scene = new THREE.Scene();
    this.scene.background = new THREE.Color(0xeef1f5);
    this.camera = new THREE.PerspectiveCamera(45, 1, 0.1, 500);
    this.controls = new OrbitControls(this.camera, canvas);
    this.controls.enableDamping = true;
    this.controls.maxPolarAngle = Math.PI / 2.05;
    this.scene.add(new THREE.HemisphereLight(0xffffff, 0x8890a0, 1.6));
    const sun = new THREE.DirectionalLight(0xffffff, 1.8);
    sun.position.set(10, 20, 12);
    this.scene.add(sun);
    this.world = new THREE.Group();
    this.scene.add(this.world);
    this.ring = new THREE.Mesh(
      new THREE.RingGeometry(1.25, 1.45, 48),
      new THREE.MeshBasicMaterial({ color: 0xff8c1a, side: THREE.DoubleSide }),
    );
    this.ring.rotation.x = -Math.PI / 2;
    this.ring.visible = false;
    this.scene.add(this.ring);
    this.raycaster = new THREE.Raycaster();
    this.timer = new THREE.Timer();
    this.drawn = false;
    this.lineTags = [];
    this.#listen();
    new ResizeObserver(() => {
      this.#fitCanvas();
      // a resized canvas is blank until drawn again: draw now, not at the next frame
      if (this.machines.size) this.renderer.render(this.scene, this.camera);
    }).observe(canvas.parentElement);
    this.#fitCanvas();
    this.renderer.setAnimationLoop((time) => this.#frame(time));
  }

  /** (Re)build the plant from the graph; the camera stays where the user put it unless
   *  machines came or went. */
  build(graph, state) {
    this.graph = graph;
    this.state = state;
    this.world.traverse((object) => {
      // a rebuild replaces every mesh: free the old ones' GPU buffers and programs
      if (object.geometry && !object.geometry.userData.shared) object.geometry.dispose();
      if (object.material && !object.material.userData.shared) object.material.dispose();
    });
    this.world.clear();
    this.labels.replaceChildren();
    this.machines.clear();
    this.lineTags = [];
    const layout = graph.layout();
    const rows = [...layout.lines, ...(layout.loose.length ? [{ id: null, machines: layout.loose }] : [])];
    const widths = rows.map((row) => row.machines.reduce((sum, id) => sum + shapeWidth(graph.catalog.shape(graph.modelOf(id))) + MACHINE_GAP, 0));
    const perColumn = rowsPerColumn(rows.length, Math.max(0, ...widths));
    const columnWidth = Math.max(0, ...widths) + COLUMN_GAP;
    rows.forEach((row, index) => {
      const x0 = Math.floor(index / perColumn) * columnWidth;
      const z = (index % perColumn) * LINE_GAP;
      let x = x0;
      for (const id of row.machines) {
        const kind = graph.catalog.shape(graph.modelOf(id));
        const width = shapeWidth(kind);
        this.#addMachine(id, kind, x + width / 2, z);
        x += width + MACHINE_GAP;
      }
      this.#addFloor(row.id, x0, x - x0, z);
    });
    for (const rel of graph.named("feeds")) this.#addPipe(rel.$sourceId, rel.$targetId);
    for (const id of this.machines.keys()) this.update(id);
    const machines = [...this.machines.keys()].join(" ");
    if (machines !== this.placedFor) this.#placeCamera(); // new plant: show all of it
    this.placedFor = machines;
    if (this.selected) this.select(this.selected);
  }

  /** Recolour and re-animate one machine from the live state. */
  update(twinId) {
    const machine = this.machines.get(twinId);
    if (!machine) return;
    const look = machineLook(this.graph, this.state, twinId, this.alarms?.activeFor(twinId));
    Object.assign(machine, look);
    machine.shape.tint.forEach((material, i) => {
      material.color.copy(look.temperature === null ? machine.shape.baseColors[i] : heatColor(look.temperature));
      if (!look.running) material.color.lerp(new THREE.Color(0x9097a0), 0.6);
    });
    if (machine.shape.fill) machine.shape.fill.mesh.scale.y = Math.max(0.001, look.fill ?? 0) * machine.shape.fill.height;
    machine.label.classList.toggle("alarm", look.alarm);
    machine.label.title = look.summary;
  }

  select(twinId) {
    this.selected = twinId;
    const machine = this.machines.get(twinId);
    this.ring.visible = Boolean(machine);
    if (machine) this.ring.position.set(machine.group.position.x, 0.02, machine.group.position.z);
    for (const [id, m] of this.machines) m.label.classList.toggle("selected", id === twinId);
  }

  /** Where a machine is on the screen, in page coordinates (for automation and tests). */
  screenPoint(twinId) {
    const machine = this.machines.get(twinId);
    if (!machine) return null;
    const point = machine.group.position.clone();
    point.y += machine.shape.height * 0.5;
    const v = point.project(this.camera);
    const rect = this.canvas.getBoundingClientRect();
    return { x: rect.left + ((v.x + 1) / 2) * rect.width, y: rect.top + ((1 - v.y) / 2) * rect.height };
  }

  /** What a machine shows now, for automation and tests: its tint's hue, saturation and
   *  lightness, its glow (red while it blinks), whether it moves, and how far its first
   *  turning part has turned. */
  lookOf(twinId) {
    const machine = this.machines.get(twinId);
    if (!machine) return null;
    const material = machine.shape.tint[0];
    const part = machine.shape.spin[0]?.object;
    return {
      hsl: material.color.getHSL({}), glow: material.emissive.getHex(), temperature: machine.temperature ?? null,
      running: machine.running, alarm: machine.alarm, turned: part ? part.quaternion.toArray() : null,
    };
  }

  /** Where the camera is and what it looks at (for automation and tests). */
  view() {
    return {
      position: this.camera.position.toArray(), target: this.controls.target.toArray(),
      distance: this.camera.position.distanceTo(this.controls.target),
    };
  }

  #addMachine(id, kind, x, z) {
    const shape = buildShape(kind);
    shape.group.position.set(x, 0, z);
    shape.group.traverse((object) => {
      object.userData.twinId = id;
    });
    this.world.add(shape.group);
    const label = document.createElement("div");
    label.className = "label";
    label.textContent = id;
    label.dataset.twin = id;
    this.labels.append(label);
    this.machines.set(id, { id, kind, shape, group: shape.group, label, running: false, alarm: false });
  }

  #addFloor(lineId, x0, length, z) {
    const floor = new THREE.Mesh(
      new THREE.PlaneGeometry(length + 1, 3.2),
      new THREE.MeshLambertMaterial({ color: lineId ? 0xd5dbe3 : 0xe3dcd0 }),
    );
    floor.rotation.x = -Math.PI / 2;
    floor.position.set(x0 + length / 2 - 0.3, 0.001, z);
    this.world.add(floor);
    if (lineId) {
      const tag = document.createElement("div");
      tag.className = "label line-label";
      tag.textContent = this.graph.twins.get(lineId)?.name ?? lineId;
      this.labels.append(tag);
      this.lineTags.push({ tag, position: new THREE.Vector3(x0 - 0.6, 0.05, z + 1.6) });
    }
  }

  #addPipe(sourceId, targetId) {
    const a = this.machines.get(sourceId);
    const b = this.machines.get(targetId);
    if (!a || !b) return;
    const from = a.group.position.clone().setY(0.35);
    const to = b.group.position.clone().setY(0.35);
    const direction = to.clone().sub(from);
    const length = direction.length();
    const material = new THREE.MeshLambertMaterial({ color: 0x6b7685 });
    const pipe = new THREE.Mesh(new THREE.CylinderGeometry(0.07, 0.07, length, 10), material);
    pipe.position.copy(from).add(direction.clone().multiplyScalar(0.5));
    pipe.quaternion.setFromUnitVectors(new THREE.Vector3(0, 1, 0), direction.clone().normalize());
    const arrow = new THREE.Mesh(new THREE.ConeGeometry(0.16, 0.35, 12), material);
    arrow.position.copy(pipe.position);
    arrow.quaternion.copy(pipe.quaternion);
    this.world.add(pipe, arrow);
  }

  /** Look at the whole plant from the front, above and a little to the left. */
  #placeCamera() {
    this.#fitCanvas(); // the fit depends on the view's current shape
    const sphere = new THREE.Box3().setFromObject(this.world).getBoundingSphere(new THREE.Sphere());
    const fov = THREE.MathUtils.degToRad(this.camera.fov);
    const fit = Math.min(fov, 2 * Math.atan(Math.tan(fov / 2) * this.camera.aspect));
    const distance = sphere.radius / Math.sin(fit / 2);
    const direction = new THREE.Vector3(-0.2, 0.75, 1).normalize();
    this.camera.position.copy(sphere.center).addScaledVector(direction, distance);
    this.controls.target.copy(sphere.center);
    this.controls.maxDistance = distance * 4;
    this.controls.update();
  }

  #listen() {
    let down = null;
    this.canvas.addEventListener("pointerdown", (e) => {
      down = { x: e.clientX, y: e.clientY };
    });
    this.canvas.addEventListener("pointerup", (e) => {
      if (!down || Math.hypot(e.clientX - down.x, e.clientY - down.y) > CLICK_SLOP_PX) return;
      const rect = this.canvas.getBoundingClientRect();
      const ndc = new THREE.Vector2(((e.clientX - rect.left) / rect.width) * 2 - 1, -((e.clientY - rect.top) / rect.height) * 2 + 1);
      this.raycaster.setFromCamera(ndc, this.camera);
      const hit = this.raycaster.intersectObjects(this.world.children, true).find((h) => h.object.userData.twinId);
      if (hit) this.onSelect(hit.object.userData.twinId);
    });
  }

  #fitCanvas() {
    const parent = this.canvas.parentElement;
    const width = parent.clientWidth;
    const height = parent.clientHeight;
    this.renderer.setSize(width, height, false);
    this.camera.aspect = width / Math.max(1, height);
    this.camera.updateProjectionMatrix();
  }

  #frame(time) {
    if (!this.machines.size) return; // nothing to draw before the graph has loaded
    if (this.drawn && time - (this.lastFrame ?? 0) < FRAME_MS) return; // 30 frames/s is plenty
    this.lastFrame = time;
    this.timer.update(time);
    const dt = Math.min(this.timer.getDelta(), 0.1);
    const t = this.timer.getElapsed();
    const blinkOn = Math.sin(t * 8) > 0;
    for (const m of this.machines.values()) {
      if (m.running) {
        for (const part of m.shape.spin) part.object.rotateOnAxis(part.axis, part.rate * dt);
        const belt = m.shape.belt;
        if (belt) {
          for (const parcel of belt.parcels) {
            parcel.position.x += belt.rate * dt;
            if (parcel.position.x > belt.length / 2) parcel.position.x -= belt.length;
          }
        }
      }
      if (m.alarm) {
        for (const material of m.shape.tint) material.emissive.setHex(blinkOn ? 0xcc0000 : 0x000000);
      } else if (m.shape.tint[0].emissive.getHex() !== 0) {
        for (const material of m.shape.tint) material.emissive.setHex(0x000000);
      }
    }
    this.controls.update();
    this.renderer.render(this.scene, this.camera);
    this.#placeLabels();
    if (!this.drawn && this.machines.size) {
      this.drawn = true;
      performance.mark("twinsight:scene-drawn");
      document.documentElement.dataset.scene = "drawn";
    }
  }

  #placeLabels() {
    const rect = this.canvas.getBoundingClientRect();
    const place = (element, position) => {
      const v = position.clone().project(this.camera);
      const hidden = v.z > 1 || Math.abs(v.x) > 1.1 || Math.abs(v.y) > 1.1;
      element.style.display = hidden ? "none" : "";
      element.style.transform = `translate(-50%, -100%) translate(${((v.x + 1) / 2) * rect.width}px, ${((1 - v.y) / 2) * rect.height}px)`;
    };
    for (const m of this.machines.values()) {
      // far away, only the selected machine and those in alarm keep their label
      const far = this.camera.position.distanceTo(m.group.position) > LABEL_DISTANCE;
      if (far && m.id !== this.selected && !m.alarm) m.label.style.display = "none";
      else place(m.label, m.group.position.clone().setY(m.shape.height + 0.25));
    }
    for (const { tag, position } of this.lineTags) place(tag, position);
  }
}
