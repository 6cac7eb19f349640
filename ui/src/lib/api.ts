// The one module that talks to the Rust side. The commands and every type are generated from Rust
// (bindings/commands.ts, written by src-tauri/tests/bindings.rs).
import { commands } from './bindings/commands';
import type { CommandError } from './bindings/CommandError';

export type { CommandError };

/** A CommandError as thrown by `invoke`, or anything else turned into one. */
export function asError(e: unknown): CommandError {
  if (e && typeof e === 'object' && 'message' in e && 'kind' in e) return e as CommandError;
  return { kind: 'failed', problem: { problem: 'failed' }, message: String(e), location: null, remedies: [] };
}

export const api = commands;
