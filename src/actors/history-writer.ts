/**
 * The history writer actor: every history write is an event to it (`history.append`), from the
 * room that the messages were posted to. The store group-commits (one write per chunk of input:
 * history-store-csv.ts); the writer answers each room, in the order asked, with
 * `history.appended` once its messages are on disk — the room delivers only then — or
 * `history.appendFailed`.
 *
 * `history.afterWrites` runs a delivery once everything asked before it is answered: a private
 * message (/msg) never overtakes its sender's earlier chat messages.
 */
import { fromCallback } from 'xstate';
import { describeCause } from '../io/errors.js';
import type { HistoryStore } from '../io/stores.js';
import type { HistoryWriterEvent } from '../machines/room.js';
import type { RoomDirectory } from './room-actor.js';
import type { ServerLog } from './server-log.js';

export interface HistoryWriterDeps {
  history: HistoryStore;
  rooms: RoomDirectory;
  log: ServerLog;
  /** Delivers a line to the user online under `login`, if there is one. */
  deliverTo(login: string, line: string): void;
}

export function historyWriter(deps: HistoryWriterDeps) {
  return fromCallback<HistoryWriterEvent>(({ receive }) => {
    /** Settles once every answer asked for so far is sent. */
    let answered: Promise<void> = Promise.resolve();
    receive((event) => {
      if (event.type === 'history.afterWrites') {
        answered = answered.then(() => deps.deliverTo(event.to, event.line));
        return;
      }
      const { messages } = event;
      // Appended now, in this turn, so that the store writes them with everything else of the turn.
      const stored = Promise.all(messages.map((message) => deps.history.append(message)));
      const room = messages[0]?.room;
      answered = answered
        .then(() => stored)
        .then(
          () => room !== undefined && deps.rooms.get(room)?.ref?.send({ type: 'history.appended', messages }),
          (err: unknown) => {
            const refused = messages.length === 1 ? 'message refused' : `${messages.length} messages refused`;
            deps.log.info(`error: history append failed, ${refused}: ${describeCause(err)}`);
            if (room !== undefined) deps.rooms.get(room)?.ref?.send({ type: 'history.appendFailed', messages });
          },
        )
        .then(() => undefined);
    });
  });
}
