"""Chats between two users and their messages."""
