// Writes the definition of every state machine in the given CloudFormation templates to
// OUT_DIR/<template>.<logical id>.asl.json, for asl-validator (make asl-validate). The
// definition is what CloudFormation deploys, with its ${...} substitutions left as text.
// Usage: node statemachines/extract-definitions.js OUT_DIR TEMPLATE...
'use strict';
const fs = require('fs');
const path = require('path');

const [outDir, ...templates] = process.argv.slice(2);
if (!outDir || templates.length === 0) {
  console.error('usage: extract-definitions.js OUT_DIR TEMPLATE...');
  process.exit(2);
}
fs.mkdirSync(outDir, { recursive: true });
let n = 0;
for (const file of templates) {
  const tpl = JSON.parse(fs.readFileSync(file, 'utf8'));
  for (const [id, res] of Object.entries(tpl.Resources || {})) {
    if (res.Type !== 'AWS::StepFunctions::StateMachine') continue;
    const def = res.Properties.DefinitionString;
    if (typeof def !== 'string') {
      console.error(`${file}: ${id}: DefinitionString is not a plain string (substitutions are expected to carry every reference)`);
      process.exit(1);
    }
    const out = path.join(outDir, `${path.basename(file, '.template.json')}.${id}.asl.json`);
    fs.writeFileSync(out, def);
    n++;
  }
}
if (n === 0) {
  console.error('no state machine in ' + templates.join(' '));
  process.exit(1);
}
console.log(`${n} definition(s) written to ${outDir}`);
