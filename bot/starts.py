"""Which conversation an input belongs to; creating one when the input starts a flow."""

from __future__ import annotations

import logging
from dataclasses import replace

from bot.domain import FlowStart, Incoming, InputKind, utcnow
from bot.errors import UserFacingError
from bot.flows.base import FlowRegistry
from bot.lang import detect_lang
from bot.prompts import PromptLibrary
from bot.resume.step import TakesInvitedResume
from bot.resume.types import InvitedResume
from bot.retakes import INTERVIEW, RetakePolicy
from bot.sessions import support_session_over
from bot.store.api import ConversationRecord, InvitationExpired, InvitationRecord, Store

log = logging.getLogger(__name__)

INVITATION_EXPIRED = "invitation_expired"  # the audit event of a refused, expired link


class ConversationStarter:
    def __init__(
        self,
        store: Store,
        flows: FlowRegistry,
        prompts: PromptLibrary,
        require_invitation: bool,
        support_idle_hours: float = 0.0,
        retake_after_days: int = 180,
    ) -> None:
        self.store, self.flows, self.prompts = store, flows, prompts
        self.require_invitation = require_invitation
        self.support_idle_hours = support_idle_hours
        self.retakes = RetakePolicy(store, retake_after_days)

    async def for_incoming(
        self, incoming: Incoming, user_id: int
    ) -> tuple[ConversationRecord, Incoming]:
        """The conversation this input belongs to, creating one when it starts a flow.

        A /start while the same flow is active does not throw the progress away: it is
        answered like /help, with where the conversation stands."""
        active = await self.store.active_conversation(incoming.key)
        start = incoming.start
        rolled_over = False  # the idle session is closed by the new one (superseded)
        if active is not None and start is not None and await self._session_over(active):
            log.info("support session %s idle; a new one starts", active.id)
            active, rolled_over = None, True
        if incoming.kind is InputKind.START and start is not None:
            if (
                active is not None
                and active.flow == start.flow
                and active.state.get("started_with", {}) == start.params
            ):
                return active, replace(incoming, kind=InputKind.COMMAND, text="help")
            start, invitation = await self._resolve_start(start, user_id)
            created = await self._create(incoming, user_id, start, active is not None, invitation)
            return created, incoming
        if active is not None:
            return active, incoming
        if start is None:
            raise UserFacingError("conversation_closed", "no active conversation")
        resolved, invitation = await self._resolve_start(start, user_id)
        created = await self._create(incoming, user_id, resolved, rolled_over, invitation)
        return created, incoming

    async def _session_over(self, active: ConversationRecord) -> bool:
        if not support_session_over(active, utcnow(), self.support_idle_hours):
            return False
        return not await self.store.pending_messages(active.id)

    async def _resolve_start(
        self, start: FlowStart, user_id: int
    ) -> tuple[FlowStart, InvitationRecord | None]:
        if start.flow not in self.flows:
            raise UserFacingError("internal_error", f"unknown flow {start.flow!r}")
        params = dict(start.params)
        token = params.pop("invitation", "")
        invitation: InvitationRecord | None = None
        if token:
            try:
                invitation = await self.store.use_invitation(token, user_id)
            except InvitationExpired as expired:
                await self._refuse_expired(expired.invitation, user_id)
                raise UserFacingError("invitation_expired", "expired invitation") from None
            if invitation is None:
                raise UserFacingError("invitation_invalid", "unknown or used invitation")
            params["role"] = invitation.role
        elif start.flow == INTERVIEW and self.require_invitation:
            raise UserFacingError("invitation_required", "interview without invitation")
        role_id = params.get("role")
        # A role picked later from the menu is checked by the flow, not here.
        if start.flow == INTERVIEW and role_id:
            refused = await self.retakes.refusal(user_id, str(role_id), invitation)
            if refused is not None:
                raise UserFacingError(
                    "interview_retake_refused",
                    f"interview {refused.previous_conversation_id} for {role_id} is recent",
                )
        return FlowStart(start.flow, params), invitation

    async def _refuse_expired(self, invitation: InvitationRecord, user_id: int) -> None:
        expires_at = invitation.expires_at.isoformat() if invitation.expires_at else "?"
        log.info(
            "invitation %s... for %s refused: expired at %s (user %s)",
            invitation.token[:4],
            invitation.role,
            expires_at,
            user_id,
        )
        await self.store.audit(
            INVITATION_EXPIRED,
            f"user:{user_id}",
            f"role:{invitation.role}",
            {"token_prefix": invitation.token[:4], "expires_at": expires_at},
        )

    async def _create(
        self,
        incoming: Incoming,
        user_id: int,
        start: FlowStart,
        supersede: bool,
        invitation: InvitationRecord | None = None,
    ) -> ConversationRecord:
        """`supersede`: the user asked for a new conversation over the active one; without
        it, a conversation another process created a moment ago is joined, not replaced.
        A résumé the invitation carried becomes the new conversation's (its flow's) own."""
        flow = self.flows.get(start.flow)
        state = flow.new_state(start, incoming.user, self.prompts)
        state.started_with = dict(incoming.start.params) if incoming.start else {}
        resume = invitation.resume if invitation is not None else None
        if resume is not None and isinstance(flow, TakesInvitedResume):
            flow.attach_invited_resume(state, InvitedResume.model_validate(resume))
            log.info("conversation of user %s starts with the invitation's résumé", user_id)
        conversation = await self.store.create_conversation(
            incoming.key, user_id, start.flow, state.model_dump(mode="json"), supersede=supersede
        )
        log.info("conversation %s started: %s %s", conversation.id, start.flow, start.params)
        return conversation


def incoming_lang(incoming: Incoming) -> str:
    """The platform's locale, else the language the text is written in (Slack has none)."""
    if incoming.user.locale:
        return "zh" if incoming.user.locale.startswith("zh") else "en"
    return detect_lang(incoming.text) or "en"
