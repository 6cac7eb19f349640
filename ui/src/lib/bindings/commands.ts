// Generated from src-tauri/src/lib.rs by src-tauri/tests/bindings.rs (cargo test). Do not edit.
import { Channel, invoke } from '@tauri-apps/api/core';
import type { About } from './About';
import type { AppEvent } from './AppEvent';
import type { BackupEntry } from './BackupEntry';
import type { BaselineOutcome } from './BaselineOutcome';
import type { CodeToRun } from './CodeToRun';
import type { Comparison } from './Comparison';
import type { Dialect } from './Dialect';
import type { Direction } from './Direction';
import type { EnvConfig } from './EnvConfig';
import type { Event } from './Event';
import type { Finding } from './Finding';
import type { FleetAction } from './FleetAction';
import type { FleetReport } from './FleetReport';
import type { FleetRunRequest } from './FleetRunRequest';
import type { FromSchema } from './FromSchema';
import type { ImportOutcome } from './ImportOutcome';
import type { ImportTool } from './ImportTool';
import type { LintFinding } from './LintFinding';
import type { LintReport } from './LintReport';
import type { MigrationDetail } from './MigrationDetail';
import type { OwnDown } from './OwnDown';
import type { PlaceholderInfo } from './PlaceholderInfo';
import type { Probe } from './Probe';
import type { ProjectView } from './ProjectView';
import type { RebaseOutcome } from './RebaseOutcome';
import type { Rendered } from './Rendered';
import type { Restored } from './Restored';
import type { RunReport } from './RunReport';
import type { RunRequest } from './RunRequest';
import type { SavedEnv } from './SavedEnv';
import type { Schema } from './Schema';
import type { SchemaComparison } from './SchemaComparison';
import type { SquashOutcome } from './SquashOutcome';
import type { StatusReport } from './StatusReport';
import type { Step } from './Step';
import type { TemplateInfo } from './TemplateInfo';
import type { VerifyReport } from './VerifyReport';

function streaming<T, E>(cmd: string, args: Record<string, unknown>, onEvent: (e: E) => void): Promise<T> {
  // Subscribed before the call, so no early event is lost.
  const events = new Channel<E>();
  events.onmessage = onEvent;
  return invoke<T>(cmd, { ...args, events });
}

export const commands = {
  openProject: (path: string) => invoke<ProjectView>('open_project', { path }),
  createProject: (root: string, migrations: string) => invoke<ProjectView>('create_project', { root, migrations }),
  pickFolder: () => invoke<string | null>('pick_folder'),
  currentProject: () => invoke<ProjectView | null>('current_project'),
  recentProjects: () => invoke<Array<string>>('recent_projects'),
  tryDemo: () => invoke<ProjectView>('try_demo'),
  about: () => invoke<About>('about'),
  envConfig: (name: string) => invoke<[EnvConfig, boolean]>('env_config', { name }),
  saveEnv: (name: string, env: EnvConfig, personal: boolean, password: string | null) => invoke<SavedEnv>('save_env', { name, env, personal, password }),
  trustServer: (env: string) => invoke<null>('trust_server', { env }),
  allowAmbient: (env: string) => invoke<null>('allow_ambient', { env }),
  removeEnv: (name: string) => invoke<ProjectView>('remove_env', { name }),
  testEnv: (env: string) => invoke<Probe>('test_env', { env }),
  createDatabase: (env: string) => invoke<boolean>('create_database', { env }),
  status: (env: string) => invoke<StatusReport>('status', { env }),
  filesStatus: (env: string) => invoke<StatusReport>('files_status', { env }),
  migration: (env: string, version: number) => invoke<MigrationDetail>('migration', { env, version }),
  history: (env: string, limit: number) => invoke<Array<Event>>('history', { env, limit }),
  check: (env: string) => invoke<Array<Finding>>('check', { env }),
  plan: (env: string, direction: Direction, to: number | null, steps: number | null, allowOutOfOrder: boolean) => invoke<RunReport>('plan', { env, direction, to, steps, allowOutOfOrder }),
  runMigrations: (req: RunRequest, onEvent: (e: AppEvent) => void) => streaming<RunReport, AppEvent>('run_migrations', { req }, onEvent),
  fleetRun: (req: FleetRunRequest, onEvent: (e: AppEvent) => void) => streaming<FleetReport, AppEvent>('fleet_run', { req }, onEvent),
  cancel: (job: number) => invoke<boolean>('cancel', { job }),
  repair: (env: string, version: number, reason: string, unchecked: boolean, confirm: string | null) => invoke<string>('repair', { env, version, reason, unchecked, confirm }),
  resolve: (env: string, version: number, applied: boolean, unchecked: boolean, confirm: string | null) => invoke<string>('resolve', { env, version, applied, unchecked, confirm }),
  baseline: (env: string, dryRun: boolean, confirm: string | null) => invoke<BaselineOutcome>('baseline', { env, dryRun, confirm }),
  squash: (env: string, to: number, dryRun: boolean, schemaOnly: boolean, skip: Array<string>) => invoke<SquashOutcome>('squash', { env, to, dryRun, schemaOnly, skip }),
  importCode: (tool: ImportTool, from: string, python: string | null) => invoke<CodeToRun | null>('import_code', { tool, from, python }),
  importPreview: (root: string, tool: ImportTool, from: string, dialect: Dialect, runCode: CodeToRun | null) => invoke<ImportOutcome>('import_preview', { root, tool, from, dialect, runCode }),
  importProject: (root: string, tool: ImportTool, from: string, dialect: Dialect, runCode: CodeToRun | null) => invoke<ProjectView>('import_project', { root, tool, from, dialect, runCode }),
  rebase: (dryRun: boolean, skip: Array<string>) => invoke<RebaseOutcome>('rebase', { dryRun, skip }),
  templates: () => invoke<Array<TemplateInfo>>('templates'),
  renderTemplate: (env: string, name: string, params: Record<string, string>) => invoke<Rendered>('render_template', { env, name, params }),
  createMigration: (name: string, up: string, down: string | null, noTransaction: boolean, allowEmpty: boolean, ownDowns: Array<OwnDown>) => invoke<Array<string>>('create_migration', { name, up, down, noTransaction, allowEmpty, ownDowns }),
  createRepeatable: (name: string, sql: string) => invoke<string>('create_repeatable', { name, sql }),
  placeholders: (env: string) => invoke<Array<PlaceholderInfo>>('placeholders', { env }),
  setPlaceholder: (env: string, name: string, value: string | null, secret: string | null) => invoke<Array<PlaceholderInfo>>('set_placeholder', { env, name, value, secret }),
  removePlaceholder: (env: string, name: string) => invoke<Array<PlaceholderInfo>>('remove_placeholder', { env, name }),
  backups: (env: string) => invoke<Array<BackupEntry>>('backups', { env }),
  backupNow: (env: string, onEvent: (e: AppEvent) => void) => streaming<BackupEntry, AppEvent>('backup_now', { env }, onEvent),
  verifyBackup: (env: string, id: string, onEvent: (e: AppEvent) => void) => streaming<Comparison, AppEvent>('verify_backup', { env, id }, onEvent),
  verifyMigrations: (env: string, from: number | null, onEvent: (e: AppEvent) => void) => streaming<VerifyReport, AppEvent>('verify_migrations', { env, from }, onEvent),
  fleetPreview: (action: FleetAction, newest: Array<number | null>) => invoke<Array<Step>>('fleet_preview', { action, newest }),
  drift: (env: string) => invoke<SchemaComparison>('drift', { env }),
  lintPending: (env: string) => invoke<LintReport>('lint_pending', { env }),
  lintDraft: (env: string, up: string, down: string | null, noTransaction: boolean) => invoke<Array<LintFinding>>('lint_draft', { env, up, down, noTransaction }),
  desiredSchema: (env: string) => invoke<string | null>('desired_schema', { env }),
  planFromSchema: (env: string, sql: string) => invoke<FromSchema>('plan_from_schema', { env, sql }),
  writeFromSchema: (env: string, name: string, sql: string, up: Array<string>, down: Array<string>, allowDestructive: boolean) => invoke<Array<string>>('write_from_schema', { env, name, sql, up, down, allowDestructive }),
  schema: (env: string) => invoke<Schema>('schema', { env }),
  compare: (a: string, b: string) => invoke<SchemaComparison>('compare', { a, b }),
  restoreBackup: (env: string, id: string, confirm: string | null, onEvent: (e: AppEvent) => void) => streaming<Restored, AppEvent>('restore_backup', { env, id, confirm }, onEvent),
};
