"""Every sentence a user can see, in one place, in English and Chinese.

Flows and adapters ask for a text by key and language; nothing else writes user-facing
words. Keep them short and kind; never include an exception's text.
"""

from __future__ import annotations

from typing import Final

Lang = str  # "en" | "zh"
LANGS: Final = ("en", "zh")

TEXTS: Final[dict[str, dict[Lang, str]]] = {
    # ---- input the engine refuses -----------------------------------------------------
    "input_empty": {
        "en": "Your message was empty. Please write a few words.",
        "zh": "您的消息是空的，请输入一些文字。",
    },
    "input_too_long": {
        "en": "That message is too long for me ({limit} characters at most). "
        "Could you shorten it or split it into parts?",
        "zh": "这条消息太长了（最多 {limit} 个字符），请缩短或分成几条发送。",
    },
    "input_binary": {
        "en": "I could not read that message: it does not look like text. Please send plain text.",
        "zh": "无法读取这条消息：它看起来不是文本。请发送纯文本。",
    },
    "input_unsupported": {
        "en": "I can only read text messages. Please type your answer.",
        "zh": "我只能读取文字消息，请用文字回答。",
    },
    "input_rate_limited": {
        "en": "You are sending messages faster than I can take them. I have set the last "
        "ones aside unanswered; please wait a minute, then send your question again.",
        "zh": "您发送消息的速度太快了。最近的几条消息我没有回复；请等一分钟后再发送您的问题。",
    },
    # ---- backend and internal trouble ---------------------------------------------------
    "llm_context_exceeded": {
        "en": "This is more text than I can read at once, so I could not answer it. "
        "Please send a shorter message.",
        "zh": "这段文字超出了我一次能读取的长度，我无法回复。请发送一条更短的消息。",
    },
    "llm_queue_position": {
        "en": "Many people are asking right now: you are number {position} in the queue. "
        "Your message is saved, and the answer starts as soon as it is your turn.",
        "zh": "现在提问的人很多：您排在第 {position} 位。您的消息已保存，轮到您时会立即开始回答。",
    },
    "llm_unavailable": {
        "en": "The assistant is briefly unavailable; your message is saved and "
        "I will answer as soon as I am back.",
        "zh": "助手暂时不可用；您的消息已保存，恢复后我会立即回复。",
    },
    "internal_error": {
        "en": "Something went wrong on my side. Your message is saved; please try again "
        "in a moment.",
        "zh": "我这边出了点问题。您的消息已保存，请稍后再试。",
    },
    # ---- support ----------------------------------------------------------------------
    "support_help": {
        "en": "Ask me anything about IT, accounts, devices or office matters. "
        "Write /cancel to end this conversation.",
        "zh": "您可以问我关于 IT、账号、设备或办公方面的任何问题。发送 /cancel 结束本次对话。",
    },
    "support_buttons_unknown": {
        "en": "That button is no longer active. Please type your question.",
        "zh": "该按钮已失效，请直接输入您的问题。",
    },
    # ---- help desk: hand-off to people, feedback, pinned answers (bot.support_desk) ----
    "desk_button_human": {"en": "Talk to a person", "zh": "联系人工"},
    "desk_button_up": {"en": "👍 Helpful", "zh": "👍 有帮助"},
    "desk_button_down": {"en": "👎 Not helpful", "zh": "👎 没有帮助"},
    "desk_answer_prompt": {"en": "Did this answer help?", "zh": "这个回答有帮助吗？"},
    "desk_pinned_label": {"en": "📌 Help-desk answer", "zh": "📌 服务台答复"},
    "desk_source": {"en": "Source: {source}", "zh": "来源：{source}"},
    "desk_thanks_up": {"en": "Thanks for the feedback!", "zh": "感谢您的反馈！"},
    "desk_thanks_down": {
        "en": "Sorry that did not help. Would you like to talk to a person?",
        "zh": "抱歉没能帮到您。需要联系人工吗？",
    },
    "desk_feedback_unknown": {
        "en": "I could not find that answer any more; your feedback was not saved.",
        "zh": "找不到该回答了，您的反馈未能保存。",
    },
    "desk_handoff_requested": {
        "en": "I have passed your question to the help-desk team. Someone will answer here; "
        "until then I will stay quiet in this conversation.",
        "zh": "我已将您的问题转给服务台同事，他们会在这里回复您；"
        "在此期间我不会在本对话中自动回答。",
    },
    "desk_handoff_unavailable": {
        "en": "Sorry, I cannot reach the help-desk team from here. Please contact them directly.",
        "zh": "抱歉，我无法从这里联系服务台同事，请直接与他们联系。",
    },
    "desk_handoff_failed": {
        "en": "Sorry, I could not reach the help-desk team just now. I am answering again; "
        'please try "Talk to a person" in a moment.',
        "zh": "抱歉，暂时无法联系到服务台同事。我会继续为您解答；请稍后再点击“联系人工”。",
    },
    "desk_handoff_resolved": {
        "en": "The help-desk team marked this as resolved. I am back: ask me anything.",
        "zh": "服务台同事已将此问题标记为已解决。我回来了，有问题请随时问我。",
    },
    "desk_relayed": {"en": "{name} (help desk): {text}", "zh": "{name}（服务台）：{text}"},
    # what the people of the help desk read in the escalation channel (their language: en)
    "desk_escalation_title": {"en": "Help wanted: {who} asked", "zh": "需要人工：{who} 提问"},
    "desk_escalation_question": {"en": "*Question:* {question}", "zh": "*问题：* {question}"},
    "desk_escalation_thread": {"en": "<{link}|Open the conversation>", "zh": "<{link}|打开对话>"},
    "desk_escalation_where": {"en": "Conversation: {where}", "zh": "对话：{where}"},
    "desk_escalation_passages": {"en": "*Passages found:*", "zh": "*检索到的段落：*"},
    "desk_escalation_no_passages": {"en": "No passages were found.", "zh": "没有检索到段落。"},
    "desk_escalation_howto": {
        "en": "Reply in this thread: your replies reach the employee, theirs come back here. "
        "Press Resolved to give the conversation back to the bot.",
        "zh": "在此线程中回复即可转达给员工，员工的回复也会转到这里。"
        "点击“已解决”把对话交还给机器人。",
    },
    "desk_button_resolved": {"en": "Resolved", "zh": "已解决"},
    "desk_resolved_by": {"en": "Resolved by <@{user}>.", "zh": "已由 <@{user}> 解决。"},
    "desk_employee_says": {"en": "{who}: {text}", "zh": "{who}：{text}"},
    # ---- support: grounded answers from the knowledge base (bot.knowledge) -------------
    "support_small_talk_greeting": {
        "en": "Hello! Ask me anything about working here: leave, IT and the VPN, expenses, "
        "travel, security. I answer from the company handbook and show where it says so.",
        "zh": "您好！可以问我工作中的各种问题：假期、IT 与 VPN、报销、出差、安全。"
        "我根据公司手册回答，并注明出处。",
    },
    "support_small_talk_thanks": {
        "en": "You're welcome! Ask me anything else whenever you need.",
        "zh": "不客气！还有其他问题随时问我。",
    },
    "kb_decline": {
        "en": "I could not find the answer to that in the company handbook, and I would "
        "rather not guess.",
        "zh": "我在公司手册中没有找到这个问题的答案，我不想凭猜测回答。",
    },
    "kb_offer_person": {
        "en": "Would you like to ask a person from the help desk?",
        "zh": "需要转给服务台的同事吗？",
    },
    "kb_talk_to_person": {"en": "Talk to a person", "zh": "转人工"},
    "kb_sources": {"en": "Sources", "zh": "来源"},
    "kb_searching": {"en": "Searching the handbook...", "zh": "正在查找手册..."},
    # ---- interview --------------------------------------------------------------------
    "interview_intro": {
        "en": "Hello! I am an AI assistant and I will conduct the first screening interview "
        "for the {role} position: {count} questions, one at a time, about {minutes} minutes.\n"
        "What is assessed: your written answers only, against the role's competencies "
        "({competencies}). Nothing else is inferred about you: no emotion, personality or "
        "honesty.\nYour answers are kept for {days} days, then deleted; /delete erases them "
        "at any time.\nThe AI only prepares an evaluation: a person on the hiring team "
        "reads your answers and makes every decision, and you can ask for it to be reviewed.\n"
        "Do you agree to continue, or would you prefer an interview with a person?",
        "zh": "您好！我是一个 AI 助手，将为 {role} 职位进行第一轮筛选面试：共 {count} 个问题，"
        "逐一提问，大约需要 {minutes} 分钟。\n评估内容：仅限您的文字回答，依据该职位的能力要求"
        "（{competencies}）。不会推断您的情绪、性格或诚信。\n您的回答将保存 {days} 天后删除；"
        "随时可发送 /delete 删除。\nAI 只准备评估：招聘团队的工作人员会阅读您的回答并做出所有"
        "决定，您也可以要求复核。\n您同意继续吗？还是希望由真人进行面试？",
    },
    "interview_consent_accept": {"en": "I agree, start", "zh": "同意，开始"},
    "interview_consent_human": {"en": "I'd prefer a person", "zh": "我希望由真人面试"},
    "interview_consent_needed": {
        "en": "Before the first question, please choose: continue with the AI interview, "
        "or ask for an interview with a person.",
        "zh": "在第一个问题之前，请选择：继续 AI 面试，或申请由真人面试。",
    },
    "interview_human_requested": {
        "en": "Understood. I have told the hiring team that you would like an interview with "
        "a person; they will contact you. Nothing about you has been evaluated.",
        "zh": "明白了。我已告知招聘团队您希望由真人面试，他们会与您联系。我们没有对您做任何评估。",
    },
    "follow_up_star_situation": {
        "en": "Could you set the scene a little more: what was the situation?",
        "zh": "能否再介绍一下当时的背景情况？",
    },
    "follow_up_star_task": {
        "en": "What were you responsible for in that situation?",
        "zh": "在那个情况下，您负责的是什么？",
    },
    "follow_up_star_action": {
        "en": "What did you do yourself, step by step?",
        "zh": "您本人具体做了什么？请一步步说明。",
    },
    "follow_up_star_result": {
        "en": "How did it end: what was the result, and what did you learn?",
        "zh": "最后结果如何？您从中学到了什么？",
    },
    "follow_up_technical": {
        "en": "Could you go into more detail: how exactly would you do it, and what could "
        "go wrong?",
        "zh": "能否讲得更具体一些：您具体会怎么做？可能会出现什么问题？",
    },
    "follow_up_situational": {
        "en": "Could you walk me through what you would do first, and why?",
        "zh": "能否具体说说您首先会做什么，为什么？",
    },
    # The only way the interviewer refers to a résumé: {snippet} is a short quote verified
    # verbatim in the cleaned résumé (bot.interview.resume_probe), never model text.
    "follow_up_resume": {
        "en": 'Your résumé mentions "{snippet}". Could you tell me about your own part in '
        "that: what did you do yourself, and what came of it?",
        "zh": "您的简历中提到“{snippet}”。能否谈谈您本人在其中具体做了什么，结果如何？",
    },
    "interview_resume_attached": {
        "en": "The hiring team has shared your résumé with this interview. It does not change "
        "how your answers are scored; you may send a newer one (PDF or DOCX) at any time.",
        "zh": "招聘团队已将您的简历附到本次面试。简历不会影响回答的评分；您可以随时发送更新的简历"
        "（PDF 或 DOCX）。",
    },
    # `chatbot evaluate` (bot/cli_evaluate.py), read by the hiring team in a terminal
    "evaluate_question": {"en": "Question {id}: score {score}", "zh": "问题 {id}：得分 {score}"},
    "evaluate_covered": {
        "en": '  covered: {point} \u2014 "{quote}"',
        "zh": "  已覆盖：{point} \u2014 “{quote}”",
    },
    "evaluate_missed": {"en": "  missed: {point}", "zh": "  未覆盖：{point}"},
    "evaluate_flag": {
        "en": '  flagged ({source}): "{excerpt}"',
        "zh": "  已标记（{source}）：“{excerpt}”",
    },
    "evaluate_competencies": {"en": "Competencies: {scores}", "zh": "各项能力：{scores}"},
    "evaluate_recommendation": {
        "en": "Recommendation (advice for a person to decide): {recommendation}. Why: {reason}",
        "zh": "建议（仅供参考，由人来决定）：{recommendation}。理由：{reason}",
    },
    "evaluate_failed": {
        "en": "The evaluation failed ({kind}); nothing was stored. The log has the details.",
        "zh": "评估失败（{kind}），未保存任何内容。详情见日志。",
    },
    "interview_ack": {"en": "Thank you.", "zh": "谢谢。"},
    "interview_progress": {"en": "Question {n} of {total}:", "zh": "第 {n} 题（共 {total} 题）："},
    "interview_last_answer": {
        "en": "That was the last question. Thank you for your answers!",
        "zh": "这是最后一个问题。感谢您的回答！",
    },
    "interview_complete": {
        "en": "Your interview is complete and your answers are saved. A person on the hiring "
        "team will review them and get back to you.",
        "zh": "面试已完成，您的回答已保存。招聘团队的工作人员会审阅并与您联系。",
    },
    "interview_already_done": {
        "en": "This interview is already complete. Thank you! Write /start to begin another.",
        "zh": "本次面试已经完成，谢谢！如需开始新的面试，请发送 /start。",
    },
    "interview_answer_in_text": {
        "en": "Please type your answer to the question above.",
        "zh": "请用文字回答上面的问题。",
    },
    "interview_choose_role": {
        "en": "Which position are you interviewing for?",
        "zh": "您要面试哪个职位？",
    },
    "interview_unknown_role": {
        "en": "I don't know that position. Please pick one from the list.",
        "zh": "没有找到该职位，请从列表中选择。",
    },
    "interview_help": {
        "en": "I ask the questions one at a time; just type your answer. "
        "/cancel withdraws from the interview, /export sends you a copy of your data, "
        "/delete erases it, /lang en or /lang zh switches the language.",
        "zh": "我会逐一提问，您直接输入回答即可。/cancel 退出面试，/export 获取您的数据副本，"
        "/delete 删除您的数据，/lang en 或 /lang zh 切换语言。",
    },
    # ---- commands shared by every flow ----------------------------------------------
    "confirm_yes": {"en": "Yes", "zh": "是"},
    "confirm_no": {"en": "No", "zh": "否"},
    "cancel_confirm": {
        "en": "Do you want to end this conversation? If it is an interview, you withdraw from it.",
        "zh": "确定要结束本次对话吗？如果是面试，您将退出面试。",
    },
    "cancel_done": {
        "en": "Done: this conversation is closed. Write /start whenever you want to begin again.",
        "zh": "已结束本次对话。需要时可发送 /start 重新开始。",
    },
    "cancel_kept": {"en": "Fine, let's continue.", "zh": "好的，我们继续。"},
    "delete_confirm": {
        "en": "Erase all your messages, answers and evaluations? This cannot be undone.",
        "zh": "确定删除您的所有消息、回答和评估吗？此操作无法撤销。",
    },
    "delete_done": {
        "en": "Your data has been erased. Only a record that a deletion happened is kept.",
        "zh": "您的数据已删除，仅保留一条“已执行删除”的记录。",
    },
    "delete_kept": {"en": "Nothing was deleted.", "zh": "未删除任何内容。"},
    "lang_set": {"en": "I will write in English.", "zh": "我将使用中文。"},
    "lang_choose": {"en": "Which language do you prefer?", "zh": "您希望使用哪种语言？"},
    "unknown_command": {
        "en": "I don't know the command /{command}. Write /help to see what I can do.",
        "zh": "我不认识命令 /{command}。发送 /help 查看可用命令。",
    },
    "nothing_to_retry": {
        "en": "There is no failed evaluation to retry here.",
        "zh": "这里没有需要重试的评估。",
    },
    "invitation_invalid": {
        "en": "This invitation link is not valid or has already been used. Please ask the "
        "hiring team for a new one.",
        "zh": "该邀请链接无效或已被使用，请向招聘团队索取新的链接。",
    },
    "invitation_expired": {
        "en": "This invitation link has expired. Please ask the hiring team for a new one; "
        "they will be glad to send it.",
        "zh": "该邀请链接已过期。请向招聘团队索取新的链接。",
    },
    "interview_retake_refused": {
        "en": "Thank you for your interest! You have already taken this interview recently, "
        "so we cannot start it again for now. The hiring team has your answers; if they would "
        "like you to take it again, they will send you a new invitation.",
        "zh": "感谢您的关注！您最近已经参加过这个职位的面试，所以暂时无法重新开始。"
        "招聘团队已经收到您的回答；如果需要您再次面试，他们会向您发送新的邀请。",
    },
    "invitation_required": {
        "en": "Interviews start from an invitation link sent by the hiring team.",
        "zh": "面试需要通过招聘团队发送的邀请链接开始。",
    },
    # ---- jobs and admin ---------------------------------------------------------------
    "interview_reminder": {
        "en": "Your interview is still open. Just reply to the last question whenever you are "
        "ready. Without an answer it closes in about {hours} hours.",
        "zh": "您的面试仍在进行中。准备好后直接回答上一个问题即可。如果一直没有回复，"
        "面试将在大约 {hours} 小时后关闭。",
    },
    "interview_expired": {
        "en": "This interview has closed because there was no answer for a while. If you are "
        "still interested, write /start or ask the hiring team for a new invitation.",
        "zh": "由于较长时间没有回复，本次面试已关闭。如果您仍有意向，请发送 /start "
        "或向招聘团队索取新的邀请。",
    },
    "export_ready": {
        "en": "Here is a copy of the data we hold about you.",
        "zh": "这是我们保存的关于您的数据副本。",
    },
    # ---- hiring: the Slack hiring channel and /interview (hiring managers read these) ----
    "hiring_report_header": {
        "en": "Interview report: {candidate} · {role}",
        "zh": "面试报告：{candidate} · {role}",
    },
    "hiring_recommendation": {
        "en": "*Recommendation (advice for a person to decide): {recommendation}*\nWhy: {reason}",
        "zh": "*建议（仅供参考，由人来决定）：{recommendation}*\n理由：{reason}",
    },
    "hiring_recommendation_advance": {"en": "Advance", "zh": "推进"},
    "hiring_recommendation_hold": {"en": "Hold", "zh": "待定"},
    "hiring_recommendation_reject": {"en": "Reject", "zh": "拒绝"},
    "hiring_facts": {
        "en": "Average {average} / 5 · {follow_ups} follow-up question(s) · "
        "duration {duration} · evaluation #{evaluation_id}",
        "zh": "平均 {average} / 5 · 追问 {follow_ups} 次 · 用时 {duration} · 评估 #{evaluation_id}",
    },
    "hiring_minutes": {"en": "{minutes} min", "zh": "{minutes} 分钟"},
    "hiring_unknown": {"en": "unknown", "zh": "未知"},
    "hiring_scores_title": {"en": "*Scores per competency*", "zh": "*各项能力得分*"},
    "hiring_strengths": {"en": "*Strengths:* {items}", "zh": "*优势：* {items}"},
    "hiring_concerns": {"en": "*Concerns:* {items}", "zh": "*顾虑：* {items}"},
    "hiring_none": {"en": "none", "zh": "无"},
    "hiring_flags_title": {"en": "*Flags*", "zh": "*标记*"},
    "hiring_flag_possible_manipulation": {
        "en": ":warning: Possible manipulation: text addressed to the grader was taken out "
        "before scoring:",
        "zh": ":warning: 可能存在操纵：评分前已移除针对评分者的文字：",
    },
    "hiring_flag_score_disagreement": {
        "en": ":warning: Score disagreement: repeated scorings differed by 2 or more points.",
        "zh": ":warning: 评分分歧：多次评分相差 2 分或以上。",
    },
    "hiring_flag_unverified_quotes_dropped": {
        "en": ":warning: {count} evidence quote(s) not found in the candidate's answers were "
        "dropped.",
        "zh": ":warning: 已删除 {count} 条在候选人回答中找不到的证据引文。",
    },
    "hiring_evidence": {"en": "Evidence (verbatim):", "zh": "证据（原文）："},
    "hiring_no_evidence": {"en": "No verified quote.", "zh": "没有经过核实的引文。"},
    "hiring_question_title": {
        "en": "*{question}*: {score}",
        "zh": "*{question}*：{score}",
    },
    "hiring_question_not_scored": {"en": "not scored", "zh": "未评分"},
    "hiring_covered": {"en": ":white_check_mark: {point}", "zh": ":white_check_mark: {point}"},
    "hiring_missed": {"en": ":x: Missed: {points}", "zh": ":x: 未涉及：{points}"},
    "hiring_question_flag": {
        "en": ":warning: Addressed to the grader ({family}), removed before scoring:",
        "zh": ":warning: 针对评分者的内容（{family}），评分前已移除：",
    },
    "hiring_follow_up_asked": {
        "en": ":leftwards_arrow_with_hook: Follow-up: {question}",
        "zh": ":leftwards_arrow_with_hook: 追问：{question}",
    },
    "hiring_adjustment": {
        "en": "Adjusted {delta} for:",
        "zh": "调整 {delta}，依据：",
    },
    "hiring_question_line": {
        "en": "*{question}* ({score} / 5): {rationale}",
        "zh": "*{question}*（{score} / 5）：{rationale}",
    },
    "hiring_details_in_thread": {
        "en": "More details are in the thread.",
        "zh": "更多详情见讨论串。",
    },
    "hiring_button_advance": {"en": "Advance", "zh": "推进"},
    "hiring_button_reject": {"en": "Reject", "zh": "拒绝"},
    "hiring_button_needs_review": {"en": "Needs human review", "zh": "需要人工复核"},
    "hiring_button_transcript": {"en": "Full transcript", "zh": "完整记录"},
    "hiring_button_retry": {"en": "Retry evaluation", "zh": "重新评估"},
    "hiring_undecided": {
        "en": "No decision yet: the recommendation is advice, the decision is a person's.",
        "zh": "尚未决定：以上只是建议，由人做出决定。",
    },
    "hiring_decided": {
        "en": "Decided: {decision} by <@{user}> at {at}",
        "zh": "已决定：{decision}，由 <@{user}> 于 {at}",
    },
    "hiring_earlier_decisions": {
        "en": "({count} earlier decision(s))",
        "zh": "（之前有 {count} 个决定）",
    },
    "hiring_refused": {
        "en": "Only members of the hiring channel and the configured deciders can do this.",
        "zh": "只有招聘频道成员和指定的决策人可以执行此操作。",
    },
    "hiring_transcript_title": {
        "en": "Transcript of the interview with {candidate} ({role})",
        "zh": "与 {candidate} 的面试记录（{role}）",
    },
    "hiring_transcript_candidate": {"en": "Candidate", "zh": "候选人"},
    "hiring_transcript_interviewer": {"en": "Interviewer", "zh": "面试官"},
    "hiring_transcript_empty": {
        "en": "There is no transcript (it may have been deleted on the candidate's request).",
        "zh": "没有面试记录（可能已应候选人要求删除）。",
    },
    "hiring_human_requested": {
        "en": ":raising_hand: {candidate} asked for an interview with a person instead of the AI "
        "interviewer ({role}). Please get in touch with them.",
        "zh": ":raising_hand: {candidate} 希望由真人而非 AI 面试（{role}），请与其联系。",
    },
    "hiring_expired": {
        "en": ":hourglass: The interview with {candidate} ({role}) expired without an answer.",
        "zh": ":hourglass: 与 {candidate} 的面试（{role}）因无回复已过期。",
    },
    "hiring_evaluation_failed": {
        "en": ":x: The evaluation of the interview with {candidate} ({role}) failed, and can "
        "be retried.",
        "zh": ":x: 与 {candidate} 的面试（{role}）评估失败，可以重试。",
    },
    "hiring_retry_requested": {
        "en": "Retry requested by <@{user}> at {at}.",
        "zh": "<@{user}> 于 {at} 请求重试。",
    },
    "hiring_nothing_to_retry": {
        "en": "This interview is no longer waiting for an evaluation retry.",
        "zh": "该面试已不需要重新评估。",
    },
    "hiring_command_usage": {
        "en": "Usage: `/interview invite <role> [candidate name]` or `/interview status`.\n"
        "Roles: {roles}",
        "zh": "用法：`/interview invite <角色> [候选人姓名]` 或 `/interview status`。\n"
        "角色：{roles}",
    },
    "hiring_unknown_role": {
        "en": "There is no role `{role}`. Roles: {roles}",
        "zh": "没有角色 `{role}`。可用角色：{roles}",
    },
    "hiring_invite_link": {
        "en": "Invitation for *{role}*{candidate}: {link}\nSend it to the candidate; it works "
        "once and does not expire.",
        "zh": "*{role}* 的邀请{candidate}：{link}\n请发送给候选人；该链接只能使用一次，不会过期。",
    },
    "hiring_invite_link_expiring": {
        "en": "Invitation for *{role}*{candidate}: {link}\nSend it to the candidate; it works "
        "once, until {expires}.",
        "zh": "*{role}* 的邀请{candidate}：{link}\n请发送给候选人；该链接只能使用一次，"
        "有效期至 {expires}。",
    },
    "hiring_resume_attached": {
        "en": "The résumé {filename} is attached: it becomes the interview's résumé when the "
        "candidate starts (a newer one they send replaces it).",
        "zh": "简历 {filename} 已附上：候选人开始面试时它将作为面试的简历"
        "（候选人发送的新简历会替换它）。",
    },
    "hiring_resume_attached_flagged": {
        "en": "The résumé {filename} is attached. It contained hidden text or instructions to "
        "the grader; they were removed and are flagged in the report.",
        "zh": "简历 {filename} 已附上。其中含有隐藏文字或给评分者的指令，已删除并会在报告中标出。",
    },
    "hiring_resume_one_file": {
        "en": "Please share exactly one résumé (PDF or DOCX) with the `invite <role> [name]` "
        "message. No invitation was made.",
        "zh": "请在 `invite <岗位> [姓名]` 消息中只附一份简历（PDF 或 DOCX）。未创建邀请。",
    },
    "hiring_resume_too_big": {
        "en": "That file is too big for a résumé ({limit} MB at most). No invitation was made.",
        "zh": "这个文件太大（简历最多 {limit} MB）。未创建邀请。",
    },
    "hiring_resume_unsupported": {
        "en": "A résumé can only be a PDF or DOCX file. No invitation was made.",
        "zh": "简历只能是 PDF 或 DOCX 文件。未创建邀请。",
    },
    "hiring_resume_unreadable": {
        "en": "I could not read that résumé (an empty, damaged or image-only file?). "
        "No invitation was made.",
        "zh": "无法读取这份简历（文件为空、已损坏或只有图片？）。未创建邀请。",
    },
    "hiring_resume_unavailable": {
        "en": "I could not fetch that file from Slack just now. No invitation was made; "
        "please try again in a moment.",
        "zh": "暂时无法从 Slack 获取该文件。未创建邀请，请稍后重试。",
    },
    "hiring_invite_no_link": {
        "en": "ask the candidate to send `/start {token}` to the interview bot on Telegram",
        "zh": "请候选人在 Telegram 上向面试机器人发送 `/start {token}`",
    },
    "hiring_status_empty": {
        "en": "No interviews in progress or awaiting a decision.",
        "zh": "没有进行中或等待决定的面试。",
    },
    "hiring_status_in_progress": {"en": "*In progress*", "zh": "*进行中*"},
    "hiring_status_awaiting": {"en": "*Awaiting a decision*", "zh": "*等待决定*"},
    "hiring_status_failed": {"en": "evaluation failed", "zh": "评估失败"},
    "hiring_status_retakes": {
        "en": "*Retake attempts refused (last 30 days)*",
        "zh": "*已拒绝的重复面试尝试（最近 30 天）*",
    },
    "hiring_status_retake_line": {
        "en": "retake refused, allowed from {allowed} or with a new invitation",
        "zh": "已拒绝重复面试，可于 {allowed} 之后或凭新邀请重新面试",
    },
    "conversation_closed": {
        "en": "This conversation has ended. Start a new one with /start.",
        "zh": "本次对话已结束。发送 /start 开始新的对话。",
    },
    # ---- Telegram: the command menu (setMyCommands) -------------------------------------
    "telegram_command_start": {"en": "Start the interview", "zh": "开始面试"},
    "telegram_command_help": {"en": "How this works", "zh": "使用说明"},
    "telegram_command_cancel": {"en": "Withdraw from the interview", "zh": "退出面试"},
    "telegram_command_delete": {"en": "Erase my data", "zh": "删除我的数据"},
    "telegram_command_export": {"en": "A copy of my data", "zh": "获取我的数据副本"},
    "telegram_command_lang": {
        "en": "Language: /lang en or /lang zh",
        "zh": "语言：/lang en 或 /lang zh",
    },
    # ---- Slack: help-desk status line and the assistant panel's suggested prompts --------
    "slack_thinking": {"en": "is thinking...", "zh": "正在思考..."},
    # the message a top-level DM reply replaces: no words, so it reads in any language
    "slack_placeholder": {"en": "⏳ …", "zh": "⏳ …"},
    "slack_prompts_title": {"en": "Try asking:", "zh": "您可以这样问："},
    "slack_prompt_1_title": {"en": "Reset my password", "zh": "重置密码"},
    "slack_prompt_1_message": {
        "en": "How do I reset my password?",
        "zh": "我该如何重置密码？",
    },
    "slack_prompt_2_title": {"en": "Set up the VPN", "zh": "设置 VPN"},
    "slack_prompt_2_message": {
        "en": "How do I set up the VPN on my laptop?",
        "zh": "如何在笔记本电脑上设置 VPN？",
    },
    "slack_prompt_3_title": {"en": "Request equipment", "zh": "申请设备"},
    "slack_prompt_3_message": {
        "en": "How do I request a new monitor or keyboard?",
        "zh": "如何申请新的显示器或键盘？",
    },
    # ---- voice answers (bot.speech) ---------------------------------------------------
    "voice_heard": {"en": "I heard:\n\n{transcript}", "zh": "我听到的是：\n\n{transcript}"},
    "hiring_voice_answer": {
        "en": "    _answered by voice, transcribed by {model}_",
        "zh": "    _语音回答，由 {model} 转写_",
    },
    "voice_use": {"en": "Use this answer", "zh": "用这个回答"},
    "voice_record_again": {"en": "Record again", "zh": "重新录音"},
    "voice_type_instead": {"en": "Type instead", "zh": "改为打字"},
    "voice_record_prompt": {
        "en": "Please record your answer again.",
        "zh": "请重新录制您的回答。",
    },
    "voice_type_prompt": {"en": "Please type your answer.", "zh": "请用文字输入您的回答。"},
    "voice_unavailable": {
        "en": "Voice is unavailable right now, please type or try again later. "
        "Your voice note is saved and I will transcribe it when voice is back.",
        "zh": "语音功能暂时不可用，请打字或稍后再试。您的语音已保存，恢复后我会为您转写。",
    },
    "voice_too_long": {
        "en": "That recording is too long ({limit} seconds at most). "
        "Please record a shorter answer or type it.",
        "zh": "这段录音太长了（最多 {limit} 秒），请录一段更短的回答或直接打字。",
    },
    "voice_too_big": {
        "en": "That file is too big for me to download (20 MB at most). "
        "Please send a shorter recording or type your answer.",
        "zh": "这个文件太大，无法下载（最多 20 MB）。请发送更短的录音或直接打字。",
    },
    "voice_unknown_format": {
        "en": "I could not play that file. Please send a voice note or type your answer.",
        "zh": "无法播放这个文件。请发送语音消息或直接打字回答。",
    },
    "voice_silent": {
        "en": "I could not hear anything in that recording. Please record again, "
        "a little closer to the microphone, or type your answer.",
        "zh": "这段录音里听不到声音。请靠近麦克风重新录音，或直接打字回答。",
    },
    # ---- résumés (bot.resume) ------------------------------------------------------------
    "resume_match_title": {"en": "Match with the role", "zh": "与岗位的匹配"},
    "resume_met": {"en": "met", "zh": "符合"},
    "resume_not_met": {"en": "not shown", "zh": "未体现"},
    "resume_must_have": {"en": "Must-have", "zh": "必备"},
    "resume_nice_to_have": {"en": "Nice to have", "zh": "加分项"},
    "resume_flagged": {
        "en": "The résumé contained hidden text or instructions to the grader; "
        "they were removed and gave nothing.",
        "zh": "简历中含有隐藏文字或给评分者的指令；这些内容已被删除，不计入任何评分。",
    },
    "resume_received": {
        "en": "Thank you, I have received your résumé. It is shared with the hiring team "
        "and does not change how your interview answers are scored.",
        "zh": "谢谢，已收到您的简历。简历会提供给招聘团队，不会影响面试回答的评分。",
    },
    "resume_too_late": {
        "en": "Thank you, but the interview is already finished, so I cannot add a résumé "
        "to it now.",
        "zh": "谢谢，不过面试已经结束，现在无法再添加简历。",
    },
    "resume_too_big": {
        "en": "That file is too big ({limit} MB at most). Please send a shorter résumé "
        "as a PDF or DOCX file.",
        "zh": "这个文件太大（最多 {limit} MB）。请发送更短的 PDF 或 DOCX 格式简历。",
    },
    "resume_unsupported": {
        "en": "I can only take a résumé as a PDF or DOCX file.",
        "zh": "简历只能以 PDF 或 DOCX 文件发送。",
    },
    "resume_match_failed": {
        "en": "A résumé was sent, but the match could not be made.",
        "zh": "候选人发送了简历，但未能完成匹配。",
    },
    "resume_unreadable": {
        "en": "I could not read that résumé. Please send it as a PDF or DOCX file.",
        "zh": "无法读取这份简历。请以 PDF 或 DOCX 格式发送。",
    },
}


def text(key: str, lang: Lang = "en", **values: object) -> str:
    """The text for `key` in `lang` (English when there is no translation)."""
    entry = TEXTS[key]
    template = entry.get(lang) or entry["en"]
    return template.format(**values) if values else template
