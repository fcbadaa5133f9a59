// build.js -- lays the plugin out as Medusa loads plugins: <package>/.medusa/server/src/...
// (what `medusa plugin:build` produces from TypeScript). The sources are plain CommonJS, so
// building is a copy. Owns: .medusa/server (recreated on each build).
'use strict';
const fs = require('fs');
const path = require('path');
const root = path.join(__dirname, '..');
const out = path.join(root, '.medusa', 'server');
fs.rmSync(out, { recursive: true, force: true });
fs.cpSync(path.join(root, 'src'), path.join(out, 'src'), { recursive: true });
fs.writeFileSync(path.join(out, 'package.json'), JSON.stringify({ type: 'commonjs' }) + '\n');
console.log(`patron-medusa: built ${path.relative(root, out)}`);
