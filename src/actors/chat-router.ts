/**
 * The chat router: the one ordered pipeline through which everything users see passes —
 * chat messages, join and leave notices, private messages, server announcements.
 *
 * A chat message is appended to history first and delivered only once the append has been
 * written (so anything a client saw survives a crash); everything else queues behind the
 * messages already in flight, so a leave notice never overtakes its sender's last message.
 * History appends are group-committed by the store, so the pipeline adds no write per message.
 */
import type { ChatMessage, HistoryStore } from '../io/stores.js';
import { formatChatLine } from '../machines/protocol.js';
import type { ChatMember, ChatRoom } from './chat-room.js';

export class ChatRouter {
  /** Settles when everything routed so far has been delivered (or refused). */
  private tail: Promise<void> = Promise.resolve();

  constructor(
    readonly room: ChatRoom,
    private readonly history: HistoryStore,
  ) {}

  /**
   * Stores a message, then delivers it to every member but the sender. Resolves once
   * delivered; rejects (StorageError) if it could not be stored — then nobody received it.
   */
  post(message: ChatMessage, sender: ChatMember | undefined): Promise<void> {
    const stored = this.history.append(message);
    const delivered = Promise.all([this.tail, stored]).then(() => {
      this.room.broadcast(formatChatLine(message), sender);
    });
    this.tail = delivered.catch(() => {});
    return delivered;
  }

  /** Runs `step` after everything already routed — for notices, private messages, joins. */
  enqueue<T>(step: () => T | Promise<T>): Promise<T> {
    const result = this.tail.then(step);
    this.tail = result.then(
      () => {},
      () => {},
    );
    return result;
  }

  announce(line: string, except?: ChatMember): Promise<number> {
    return this.enqueue(() => this.room.broadcast(line, except));
  }
}
