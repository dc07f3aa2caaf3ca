"""The Slack adapter: slack-bolt's AsyncApp over the Web API (or a fake, via BOT_SLACK_API_URL)."""

from adapters.slack.app import EVENTS_PATH, SlackAdapter
from adapters.slack.renderer import SlackRenderer
from adapters.slack.splitting import split_text
from adapters.slack.streaming import StreamTiming, Target

__all__ = ["EVENTS_PATH", "SlackAdapter", "SlackRenderer", "StreamTiming", "Target", "split_text"]
