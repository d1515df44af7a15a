// Loads the wasm module in Node from the Bazel-given paths (the .js among
// `$(locations :wring_validator)`).
'use strict';
const path = require('path');

function validatorJsPath(paths) {
  const js = paths.find((p) => p.endsWith('.js'));
  if (!js) throw new Error('no wring_validator.js among ' + paths.join(' '));
  return path.resolve(js);
}

async function loadValidator(paths) {
  const createWringValidator = require(validatorJsPath(paths));
  return createWringValidator();
}

module.exports = {loadValidator, validatorJsPath};
