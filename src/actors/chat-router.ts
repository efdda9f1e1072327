/**
 * The chat router: the one ordered pipeline through which everything users see passes —
 * chat messages, join and leave notices, private messages, server announcements.
 *
 * A chat message is appended to history first and delivered only once the append has been
 * written (so anything a client saw survives a crash); everything else queues behind the
 * messages already in flight, so a leave notice never overtakes its sender's last message.
 * History appends are group-committed by the store, so the pipeline adds no write per message.
 *
 * Join and leave notices are gathered for a moment and delivered together (see `notice`): in a
 * burst of sign-ins each one used to cost a write to every member — 10,000 sign-ins, 50 million
 * one-line writes (bench/, scenario 3). Anything else routed delivers the gathered notices
 * first, so nobody sees them out of order.
 */
import type { ChatMessage, HistoryStore } from '../io/stores.js';
import { formatChatLine } from '../machines/protocol.js';
import type { ChatMember, ChatRoom } from './chat-room.js';

/**
 * How long notices may wait for company: longer in a bigger room, where each batch costs a write
 * per member — 10 ms up to 100 members, 100 ms at 1,000, a second from 10,000 on.
 */
export function noticeDelayMs(members: number): number {
  return Math.min(1000, Math.max(10, members / 10));
}

export class ChatRouter {
  /** Settles when everything routed so far has been delivered (or refused). */
  private tail: Promise<void> = Promise.resolve();
  /** Join and leave notices not delivered yet, in order. */
  private notices: { line: string; except?: ChatMember }[] = [];
  private noticeTimer: NodeJS.Timeout | undefined;

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
      this.flushNotices();
      this.room.broadcast(formatChatLine(message), sender);
    });
    this.tail = delivered.catch(() => {});
    return delivered;
  }

  /**
   * Runs `step` after everything already routed — private messages, joins, leaves. A step that
   * only adds notices says so (`notices: true`): it does not deliver the ones gathered so far.
   */
  enqueue<T>(step: () => T | Promise<T>, opts?: { notices?: boolean }): Promise<T> {
    const result = this.tail.then(() => {
      if (!opts?.notices) this.flushNotices();
      return step();
    });
    this.tail = result.then(
      () => {},
      () => {},
    );
    return result;
  }

  /**
   * A join or leave notice (`except`: the member it is about, who does not get it). Call it from
   * a router step. It goes out with the notices gathered in the next `noticeDelayMs`, or before
   * anything else is delivered, whichever comes first.
   */
  notice(line: string, except?: ChatMember): void {
    this.notices.push({ line, except });
    this.noticeTimer ??= setTimeout(() => this.flushNotices(), noticeDelayMs(this.room.size)).unref();
  }

  /** Delivers the gathered notices now. */
  flushNotices(): void {
    if (this.noticeTimer) clearTimeout(this.noticeTimer);
    this.noticeTimer = undefined;
    if (this.notices.length === 0) return;
    const notices = this.notices;
    this.notices = [];
    this.room.broadcastAll(notices);
  }

  announce(line: string, except?: ChatMember): Promise<number> {
    return this.enqueue(() => this.room.broadcast(line, except));
  }
}
