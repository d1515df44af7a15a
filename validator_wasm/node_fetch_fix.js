// Emscripten 3.1.6 loads the .wasm with fetch() whenever fetch exists, which
// Node 18+ has but cannot use on a file path. Hide fetch from the module in
// Node so it reads the file with fs; browsers and workers keep fetch.
var fetch =
    typeof process == 'object' && typeof process.versions == 'object' &&
            typeof process.versions.node == 'string'
        ? undefined
        : globalThis.fetch && globalThis.fetch.bind(globalThis);
