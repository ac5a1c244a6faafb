/**
 * The `task_id` of an orders-queue message body (the order task as JSON), or undefined when the
 * body is not a JSON object with a string `task_id`. Redrives find a task's dead letters with it.
 */
export function taskIdOfBody(body: string): string | undefined {
  try {
    const parsed: unknown = JSON.parse(body);
    const id = typeof parsed === 'object' && parsed !== null ? (parsed as { task_id?: unknown }).task_id : undefined;
    return typeof id === 'string' ? id : undefined;
  } catch {
    return undefined;
  }
}
