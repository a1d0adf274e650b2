#!/usr/bin/env node
// Runs the TypeScript CLI through tsx, so `npm install` is the whole set-up (no build step).
import { register } from 'tsx/esm/api'

register()
await import('../cli/main.ts')
