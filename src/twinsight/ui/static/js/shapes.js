// One 3D shape per kind of machine, built from three.js primitives. Each builder answers
// {group, tint, spin, belt, fill, height}: the materials the live state colours, the parts
// that turn while the machine runs (with their axis), a conveyor's moving parcels, a tank's
// liquid (scaled to its level) and the shape's height (for its label).

import * as THREE from "three";

const metal = (color) => new THREE.MeshLambertMaterial({ color });

// Geometries, and the materials no state colours, are shared by every machine: a plant of a
// hundred machines then uploads a few dozen buffers instead of fifteen hundred.
const geometries = new Map();
function shared(Geometry, ...args) {
  const key = `${Geometry.name}(${args.join(",")})`;
  if (!geometries.has(key)) {
    const geometry = new Geometry(...args);
    geometry.userData.shared = true;
    geometries.set(key, geometry);
  }
  return geometries.get(key);
}
const sharedMaterial = (options) => Object.assign(new THREE.MeshLambertMaterial(options), { userData: { shared: true } });
const DARK = sharedMaterial({ color: 0x333a44 });
const BELT = sharedMaterial({ color: 0x22262c });
const PARCEL = sharedMaterial({ color: 0xc89b5a });
const GLASS = sharedMaterial({ color: 0x9aa7b4, transparent: true, opacity: 0.28, depthWrite: false });
const LIQUID = sharedMaterial({ color: 0x2f7fd6, transparent: true, opacity: 0.85 });
const X = new THREE.Vector3(1, 0, 0);

function mesh(geometry, material, x = 0, y = 0, z = 0) {
  const m = new THREE.Mesh(geometry, material);
  m.position.set(x, y, z);
  return m;
}

function blades(count, length, material) {
  const fan = new THREE.Group();
  for (let i = 0; i < count; i += 1) {
    const blade = mesh(shared(THREE.BoxGeometry, 0.05, length, 0.14), material, 0, length / 2, 0);
    const arm = new THREE.Group();
    arm.add(blade);
    arm.rotation.x = (i * 2 * Math.PI) / count;
    fan.add(arm);
  }
  return fan;
}

function motor() {
  const group = new THREE.Group();
  const body = metal(0x5577aa);
  const dark = DARK;
  const housing = mesh(shared(THREE.CylinderGeometry, 0.55, 0.55, 1.4, 28), body, 0, 0.85, 0);
  housing.rotation.z = Math.PI / 2;
  group.add(housing);
  for (let i = -2; i <= 2; i += 1) {
    const fin = mesh(shared(THREE.TorusGeometry, 0.56, 0.035, 6, 28), body, i * 0.25, 0.85, 0);
    fin.rotation.y = Math.PI / 2;
    group.add(fin);
  }
  group.add(mesh(shared(THREE.BoxGeometry, 1.2, 0.3, 0.9), dark, 0, 0.15, 0));
  const shaft = mesh(shared(THREE.CylinderGeometry, 0.08, 0.08, 0.5, 12), dark, 0.9, 0.85, 0);
  shaft.rotation.z = Math.PI / 2;
  group.add(shaft);
  const fan = blades(4, 0.42, dark);
  fan.position.set(-0.78, 0.85, 0);
  group.add(fan);
  const coupling = blades(2, 0.22, dark);
  coupling.position.set(1.1, 0.85, 0);
  group.add(coupling);
  return { group, tint: [body], spin: [{ object: fan, axis: X, rate: 12 }, { object: coupling, axis: X, rate: 12 }], height: 1.5 };
}

function pump() {
  const group = new THREE.Group();
  const body = metal(0x2f8f83);
  const dark = DARK;
  const volute = mesh(shared(THREE.CylinderGeometry, 0.6, 0.6, 0.45, 28), body, 0, 0.9, 0);
  volute.rotation.z = Math.PI / 2;
  group.add(volute);
  const outlet = mesh(shared(THREE.CylinderGeometry, 0.16, 0.16, 0.7, 14), body, 0, 1.55, 0);
  group.add(outlet);
  const inlet = mesh(shared(THREE.CylinderGeometry, 0.18, 0.18, 0.5, 14), body, 0.45, 0.9, 0);
  inlet.rotation.z = Math.PI / 2;
  group.add(inlet);
  group.add(mesh(shared(THREE.BoxGeometry, 0.9, 0.3, 0.9), dark, 0, 0.15, 0));
  const impeller = blades(5, 0.4, dark);
  impeller.position.set(-0.25, 0.9, 0);
  group.add(impeller);
  return { group, tint: [body], spin: [{ object: impeller, axis: X, rate: 10 }], height: 1.9 };
}

function conveyor() {
  const group = new THREE.Group();
  const frame = metal(0x8a8f98);
  const belt = BELT;
  const length = 3;
  group.add(mesh(shared(THREE.BoxGeometry, length, 0.12, 1.0), belt, 0, 0.8, 0));
  for (const side of [-0.55, 0.55]) group.add(mesh(shared(THREE.BoxGeometry, length, 0.22, 0.08), frame, 0, 0.78, side));
  for (const x of [-1.3, 1.3]) {
    for (const z of [-0.45, 0.45]) group.add(mesh(shared(THREE.BoxGeometry, 0.1, 0.7, 0.1), frame, x, 0.35, z));
  }
  const rollers = [];
  for (const x of [-length / 2, length / 2]) {
    const roller = mesh(shared(THREE.CylinderGeometry, 0.1, 0.1, 1.0, 12), frame);
    roller.rotation.x = Math.PI / 2;
    const axle = new THREE.Group();
    axle.position.set(x, 0.8, 0);
    axle.add(roller);
    group.add(axle);
    rollers.push({ object: axle, axis: new THREE.Vector3(0, 0, -1), rate: 8 });
  }
  const parcels = [];
  const box = PARCEL;
  for (let i = 0; i < 3; i += 1) {
    const parcel = mesh(shared(THREE.BoxGeometry, 0.4, 0.3, 0.4), box, -length / 2 + i, 1.01, 0);
    group.add(parcel);
    parcels.push(parcel);
  }
  return { group, tint: [frame], spin: rollers, belt: { parcels, length, rate: 0.8 }, height: 1.3 };
}

function tank() {
  const group = new THREE.Group();
  const shellHeight = 2.4;
  const body = GLASS;
  const dark = metal(0x56606b);
  group.add(mesh(shared(THREE.CylinderGeometry, 0.9, 0.9, shellHeight, 32, 1, true), body, 0, 0.3 + shellHeight / 2, 0));
  group.add(mesh(shared(THREE.CylinderGeometry, 0.95, 0.95, 0.3, 32), dark, 0, 0.15, 0));
  const rim = mesh(shared(THREE.TorusGeometry, 0.9, 0.04, 8, 32), dark, 0, 0.3 + shellHeight, 0);
  rim.rotation.x = Math.PI / 2;
  group.add(rim);
  // the liquid: a unit-high cylinder standing on the tank's floor, scaled to the level
  const fill = new THREE.Group();
  fill.position.y = 0.3;
  fill.add(mesh(shared(THREE.CylinderGeometry, 0.86, 0.86, 1, 32), LIQUID, 0, 0.5, 0));
  fill.scale.y = 0.001;
  group.add(fill);
  return { group, tint: [dark], spin: [], fill: { mesh: fill, height: shellHeight }, height: 0.3 + shellHeight };
}

function generic() {
  const group = new THREE.Group();
  const body = metal(0x7d8590);
  group.add(mesh(shared(THREE.BoxGeometry, 1.2, 1.2, 1.2), body, 0, 0.6, 0));
  return { group, tint: [body], spin: [], height: 1.2 };
}

const BUILDERS = { motor, pump, conveyor, tank };

/** A fresh shape for a machine drawn as `kind` (see models.js SHAPES). */
export function buildShape(kind) {
  const shape = (BUILDERS[kind] ?? generic)();
  shape.baseColors = shape.tint.map((m) => m.color.clone());
  return shape;
}

/** The width a shape takes on its line (conveyors are long). */
export const shapeWidth = (kind) => (kind === "conveyor" ? 3.4 : 2.2);
