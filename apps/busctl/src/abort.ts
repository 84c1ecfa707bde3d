/** Whether `err` is the SDK's (or the platform's) answer to an aborted signal. */
export function isAbortLike(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  const name = (err as { name?: unknown } | null)?.name;
  return code === 'ABORTED' || code === 'ABORT_ERR' || name === 'AbortError';
}
