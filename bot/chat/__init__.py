"""Chat: the commands people type and the bot's answers to them."""
