import type { EventBus } from '../../ports/event-bus.ts';
import type { IngestStage } from '../../ports/events.ts';

/**
 * Publishes ingest progress for one run. Stage changes and the final state always go out;
 * counts inside a stage at most every `intervalMs` (a UI needs a few updates a second, not one
 * per chunk) plus the last one of the stage.
 */
export class IngestProgress {
  private stage: IngestStage | undefined;
  private lastAt = 0;
  private readonly events: EventBus;
  private readonly userId: string;
  private readonly documentId: string;
  private readonly attempt: number;
  private readonly intervalMs: number;

  constructor(events: EventBus, userId: string, documentId: string, attempt: number, intervalMs = 250) {
    this.events = events;
    this.userId = userId;
    this.documentId = documentId;
    this.attempt = attempt;
    this.intervalMs = intervalMs;
  }

  async report(stage: IngestStage, done: number, total: number, error: string | null = null): Promise<void> {
    const now = Date.now();
    const changed = stage !== this.stage;
    if (!changed && done < total && now - this.lastAt < this.intervalMs) return;
    this.stage = stage;
    this.lastAt = now;
    await this.events.publish('ingest', this.userId, {
      documentId: this.documentId,
      stage,
      done,
      total,
      attempt: this.attempt,
      error,
    });
  }
}
