"""Playwright bots, one package per external system: page objects plus the bot's actions."""
