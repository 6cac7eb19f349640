// The one module that talks to the Rust side. Every type here is generated from Rust (bindings/).
import { Channel, invoke } from '@tauri-apps/api/core';
import type { AppEvent } from './bindings/AppEvent';
import type { BackupEntry } from './bindings/BackupEntry';
import type { CommandError } from './bindings/CommandError';
import type { Comparison } from './bindings/Comparison';
import type { Direction } from './bindings/Direction';
import type { EnvConfig } from './bindings/EnvConfig';
import type { Event } from './bindings/Event';
import type { Finding } from './bindings/Finding';
import type { Probe } from './bindings/Probe';
import type { ProjectView } from './bindings/ProjectView';
import type { Rendered } from './bindings/Rendered';
import type { Restored } from './bindings/Restored';
import type { RunReport } from './bindings/RunReport';
import type { RunRequest } from './bindings/RunRequest';
import type { SavedEnv } from './bindings/SavedEnv';
import type { StatusReport } from './bindings/StatusReport';
import type { TemplateInfo } from './bindings/TemplateInfo';

export type { CommandError };

/** A CommandError as thrown by `invoke`, or anything else turned into one. */
export function asError(e: unknown): CommandError {
  if (e && typeof e === 'object' && 'message' in e && 'kind' in e) return e as CommandError;
  return { kind: 'failed', message: String(e), location: null, remedies: [] };
}

function streaming<T>(cmd: string, args: Record<string, unknown>, onEvent: (e: AppEvent) => void): Promise<T> {
  // Subscribe before invoking, so no early event is lost.
  const events = new Channel<AppEvent>();
  events.onmessage = onEvent;
  return invoke<T>(cmd, { ...args, events });
}

export const api = {
  openProject: (path: string) => invoke<ProjectView>('open_project', { path }),
  createProject: (root: string, migrations: string) => invoke<ProjectView>('create_project', { root, migrations }),
  pickFolder: () => invoke<string | null>('pick_folder'),
  currentProject: () => invoke<ProjectView | null>('current_project'),
  recentProjects: () => invoke<string[]>('recent_projects'),
  envConfig: (name: string) => invoke<[EnvConfig, boolean]>('env_config', { name }),
  saveEnv: (name: string, env: EnvConfig, personal: boolean, password: string | null) =>
    invoke<SavedEnv>('save_env', { name, env, personal, password }),
  removeEnv: (name: string) => invoke<ProjectView>('remove_env', { name }),
  trustServer: (env: string) => invoke<null>('trust_server', { env }),
  testEnv: (env: string) => invoke<Probe>('test_env', { env }),
  status: (env: string) => invoke<StatusReport>('status', { env }),
  history: (env: string, limit: number) => invoke<Event[]>('history', { env, limit }),
  check: (env: string) => invoke<Finding[]>('check', { env }),
  plan: (env: string, direction: Direction, to: number | null, steps: number | null, allowOutOfOrder = false) =>
    invoke<RunReport>('plan', { env, direction, to, steps, allowOutOfOrder }),
  run: (req: RunRequest, onEvent: (e: AppEvent) => void) => streaming<RunReport>('run_migrations', { req }, onEvent),
  cancel: (job: number) => invoke<boolean>('cancel', { job }),
  repair: (env: string, version: number, reason: string, confirm: string | null) =>
    invoke<string>('repair', { env, version, reason, confirm }),
  resolve: (env: string, version: number, applied: boolean, confirm: string | null) =>
    invoke<string>('resolve', { env, version, applied, confirm }),
  templates: () => invoke<TemplateInfo[]>('templates'),
  renderTemplate: (env: string, name: string, params: Record<string, string>) =>
    invoke<Rendered>('render_template', { env, name, params }),
  createMigration: (name: string, up: string, down: string | null, noTransaction: boolean) =>
    invoke<string[]>('create_migration', { name, up, down, noTransaction }),
  backups: (env: string) => invoke<BackupEntry[]>('backups', { env }),
  backupNow: (env: string, onEvent: (e: AppEvent) => void) => streaming<BackupEntry>('backup_now', { env }, onEvent),
  verifyBackup: (env: string, id: string, onEvent: (e: AppEvent) => void) =>
    streaming<Comparison>('verify_backup', { env, id }, onEvent),
  restoreBackup: (env: string, id: string, confirm: string | null, onEvent: (e: AppEvent) => void) =>
    streaming<Restored>('restore_backup', { env, id, confirm }, onEvent),
};
