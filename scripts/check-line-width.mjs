#!/usr/bin/env node
// Fails when a tracked *.ts, *.js or *.mjs line is longer than the width Biome formats to.
// Biome wraps code but not long string literals, template literals or comments; this catches those.
// The width is biome.json's formatter.lineWidth (javascript.formatter.lineWidth if that is set).
// Prints `file:line: N characters` for each offending line and exits 1; exits 0 when there is none.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const biome = JSON.parse(readFileSync(path.join(root, 'biome.json'), 'utf8'));
const width = biome.javascript?.formatter?.lineWidth ?? biome.formatter?.lineWidth ?? 80;

const files = execFileSync('git', ['ls-files', '-z', '--', '*.ts', '*.js', '*.mjs'], { cwd: root, encoding: 'utf8' })
  .split('\0')
  .filter(Boolean);

let offending = 0;
for (const file of files) {
  let text;
  try {
    text = readFileSync(path.join(root, file), 'utf8');
  } catch (error) {
    if (error.code === 'ENOENT') continue; // tracked but deleted in the working tree
    throw error;
  }
  const lines = text.split('\n');
  for (let index = 0; index < lines.length; index++) {
    const length = [...lines[index].replace(/\r$/, '')].length;
    if (length > width) {
      console.log(`${file}:${index + 1}: ${length} characters`);
      offending++;
    }
  }
}

if (offending > 0) {
  console.error(`${offending} line${offending === 1 ? '' : 's'} longer than ${width} characters (biome.json lineWidth)`);
  process.exit(1);
}
