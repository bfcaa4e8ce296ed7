import type { ChatMessageRecord } from '../services/chat/chat-records.ts';
import { builder } from './builder.ts';
import { ChatRoleEnum } from './chat-role.ts';
import { ReplySourceRef } from './reply-source.ts';
import { ReplyStatusEnum } from './reply-status.ts';
import { ReplyUsageRef } from './reply-usage.ts';

export const ChatMessageRef = builder.objectRef<ChatMessageRecord>('ChatMessage').implement({
  description: "One turn of a chat: the user's message or the twin's reply.",
  fields: (t) => ({
    id: t.exposeID('id'),
    role: t.field({ type: ChatRoleEnum, resolve: (m) => m.role }),
    content: t.exposeString('content'),
    createdAt: t.field({ type: 'DateTime', resolve: (m) => m.createTime }),
    replyTo: t.exposeID('replyTo', { nullable: true, description: 'The user message a reply answers.' }),
    status: t.field({ type: ReplyStatusEnum, nullable: true, resolve: (m) => m.status ?? null }),
    model: t.exposeString('model', { nullable: true }),
    finishReason: t.exposeString('finishReason', { nullable: true }),
    error: t.exposeString('error', { nullable: true }),
    usage: t.field({ type: ReplyUsageRef, nullable: true, resolve: (m) => m.usage ?? null }),
    citations: t.field({ type: [ReplySourceRef], resolve: (m) => m.citations ?? [] }),
  }),
});
