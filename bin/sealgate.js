#!/usr/bin/env node
// The installed command runs the compiled CLI; `npm install` builds it (the prepare script).
import "../dist/cli/entry.js";
