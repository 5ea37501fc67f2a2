"""MoQ Chat (draft-frindell-moq-chat-00) over IETF MoQ Transport draft-07."""

from hang.chat.room import ChatEvent, ChatRoom

__all__ = ["ChatEvent", "ChatRoom"]
