"""Every stable problem code in English and Arabic: its title, and its detail as templates whose parameters are filled
from the problem (the members a PTnnn raise sends in its DETAIL, or what the API passes).

`Accept-Language: ar` (or `ar-AE`, any `ar-*`, by q-value against `en`) answers a problem+json body with the Arabic
title and detail and `Content-Language: ar`; anything else gets English. The English detail of a problem stays the
one it was raised with (a PTnnn raise's own message, the API's own sentence); the English templates here are what
the Arabic ones translate, the wording clients see when a problem has no sentence of its own, and the reference of
docs/business-rules.md section 2. Clients branch on `code`, never on either language's text.

Each entry's `details` are tried in order: the first whose `when` conditions hold and whose parameters are all
known is used, so an entry ends with a variant without parameters (tests/api/test_problems_i18n.py checks it, and
that every code of docs/catalogue.md and of the API has an entry in both languages). Parameter values are shown as
sent (ids, times, slots, field paths); statuses, roles and actions are named in Arabic in Arabic details.
A constraint violation's code is the constraint's name; its entry is its kind's (`unique_violation`, ...), with the
name as a parameter.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

LANGUAGES = ("en", "ar")
DEFAULT_LANGUAGE = "en"
_PLACEHOLDER = re.compile(r"\{([a-z_]+)\}")


@dataclass(frozen=True)
class Detail:
    en: str
    ar: str
    when: Mapping[str, str] = field(default_factory=dict)  # parameter values this variant is for

    def placeholders(self, language: str) -> set[str]:
        return set(_PLACEHOLDER.findall(self.en if language == "en" else self.ar))


@dataclass(frozen=True)
class Entry:
    title_en: str
    title_ar: str
    details: tuple[Detail, ...]

    def title(self, language: str) -> str:
        return self.title_ar if language == "ar" else self.title_en


def _e(title_en: str, title_ar: str, *details: tuple[str, str] | Detail) -> Entry:
    return Entry(title_en, title_ar, tuple(d if isinstance(d, Detail) else Detail(*d) for d in details))


_APPEND_ONLY = _e(
    "Append-only record", "سجل للإضافة فقط",
    ("{table} is append-only: {operation} is not allowed.",
     "الجدول {table} للإضافة فقط: العملية {operation} غير مسموحة."),
    ("This record is append-only; record a correction as a new row.",
     "هذا السجل للإضافة فقط؛ سجّل التصحيح كسجل جديد."))

CATALOGUE: dict[str, Entry] = {
    # -- raised in SQL (PTnnn; docs/catalogue.md lists where) ----------------------------------------------------------
    "agent_full": _e(
        "Agent at capacity", "الوكيل بلغ الحد الأقصى",
        ("Agent {agent_id} has no free capacity ({active_leads} of {max_active_leads} leads).",
         "لا توجد سعة متاحة لدى الوكيل {agent_id} ({active_leads} من أصل {max_active_leads} عميلاً محتملاً)."),
        ("The agent has no free capacity.", "لا توجد سعة متاحة لدى الوكيل.")),
    "agent_inactive": _e(
        "Agent not active", "الوكيل غير نشط",
        ("Agent {agent_id} is not active.", "الوكيل {agent_id} غير نشط."),
        ("The agent is not active.", "الوكيل غير نشط.")),
    "absence_not_found": _e(
        "Absence not found", "الغياب غير موجود",
        ("Absence {absence_id} does not exist.", "الغياب {absence_id} غير موجود."),
        ("The absence does not exist.", "الغياب غير موجود.")),
    "absence_overlap": _e(
        "Overlapping absence", "غياب متداخل",
        ("The absence overlaps absence {absence_id} of the same agent.",
         "الغياب يتداخل مع الغياب {absence_id} للوكيل نفسه."),
        ("The absence overlaps another absence of the same agent.", "الغياب يتداخل مع غياب آخر للوكيل نفسه.")),
    "absence_period": _e(
        "Invalid absence period", "فترة غياب غير صالحة",
        ("An absence ends after it starts.", "يجب أن ينتهي الغياب بعد بدايته.")),
    "agent_unavailable": _e(
        "Agent unavailable", "الوكيل غير متاح",
        Detail("Agent {agent_id} is paused and takes no lead.",
               "الوكيل {agent_id} في استراحة ولا يستقبل عملاء محتملين.", {"reason": "paused"}),
        Detail("Agent {agent_id} is absent and takes no lead.", "الوكيل {agent_id} غائب ولا يستقبل عملاء محتملين.",
               {"reason": "absent"}),
        ("The agent is paused or absent and takes no lead.", "الوكيل في استراحة أو غائب ولا يستقبل عملاء محتملين.")),
    "agents_availability_derived": _e(
        "Derived availability", "توفر مشتق",
        ("An agent's working hours and absences are copied from their tables and cannot be set directly.",
         "تُنسخ ساعات عمل الوكيل وغياباته من جداولها ولا يمكن تعيينها مباشرة.")),
    "agent_not_found": _e(
        "Agent not found", "الوكيل غير موجود",
        ("Agent {agent_id} does not exist.", "الوكيل {agent_id} غير موجود."),
        ("The agent does not exist.", "الوكيل غير موجود.")),
    "agents_active_leads_derived": _e(
        "Derived counter", "عدّاد مشتق",
        ("An agent's count of active leads is kept by triggers and cannot be set directly.",
         "يُحتسب عدد العملاء المحتملين النشطين للوكيل تلقائياً ولا يمكن تعيينه مباشرة.")),
    "agents_profile_derived": _e(
        "Derived routing profile", "ملف توزيع مشتق",
        ("An agent's routing profile is copied from its specialisation tables and cannot be set directly.",
         "يُنسخ ملف توزيع الوكيل من جداول تخصصاته ولا يمكن تعيينه مباشرة.")),
    "api_key_inactive_agent": _e(
        "Agent no longer active", "الوكيل لم يعد نشطاً",
        ("The API key belongs to an agent who is no longer active.", "مفتاح API هذا يخص وكيلاً لم يعد نشطاً.")),
    "api_key_invalid": _e(
        "Invalid API key", "مفتاح API غير صالح",
        ("The API key is unknown or revoked.", "مفتاح API غير معروف أو تم إلغاؤه.")),
    "api_key_missing": _e(
        "API key required", "مفتاح API مطلوب",
        ("No API key was presented: send X-API-Key (or Authorization: Bearer).",
         "لم يُرسَل مفتاح API: أرسله في الترويسة X-API-Key (أو Authorization: Bearer).")),
    "api_key_not_found": _e(
        "API key not found", "مفتاح API غير موجود",
        ("No API key has this prefix or id.", "لا يوجد مفتاح API بهذه البادئة أو هذا المعرّف.")),
    "api_key_role_unknown": _e(
        "Unknown role", "دور غير معروف",
        ("The role must be one of integration, agent, supervisor, admin.",
         "يجب أن يكون الدور أحد الأدوار: integration أو agent أو supervisor أو admin.")),
    "api_keys_agent_binding": _e(
        "Agent key without an agent", "مفتاح وكيل بلا وكيل",
        ("An agent key needs the id of an existing agent.", "يحتاج مفتاح الوكيل إلى معرّف وكيل موجود.")),
    "business_time_out_of_range": _e(
        "Business time out of range", "مدة عمل خارج النطاق",
        ("Business time {duration} from {from} is out of range.",
         "مدة العمل {duration} ابتداءً من {from} خارج النطاق المسموح."),
        ("A business-time duration is out of range.", "مدة العمل المطلوبة خارج النطاق المسموح.")),
    "date_range_out_of_bounds": _e(
        "Date range out of bounds", "نطاق التاريخ خارج الحدود",
        ("A custom range may run from {earliest} to {latest}.",
         "يمكن أن يمتد النطاق المخصص من {earliest} إلى {latest}."),
        ("The custom date range is out of bounds.", "نطاق التاريخ المخصص خارج الحدود المسموحة.")),
    "dead_letter_not_found": _e(
        "Dead letter not found", "سجل الالتقاط الفاشل غير موجود",
        ("Dead letter {dead_letter_id} does not exist.", "سجل الالتقاط الفاشل {dead_letter_id} غير موجود."),
        ("The dead letter does not exist.", "سجل الالتقاط الفاشل غير موجود.")),
    "dead_letter_replayed": _e(
        "Dead letter already replayed", "أُعيدت معالجة السجل مسبقاً",
        ("The dead letter was already replayed as lead {lead_id}.",
         "أُعيدت معالجة سجل الالتقاط الفاشل مسبقاً وأصبح العميل المحتمل {lead_id}."),
        ("The dead letter was already replayed.", "أُعيدت معالجة سجل الالتقاط الفاشل مسبقاً.")),
    "duplicate_lead": _e(
        "Duplicate lead", "عميل محتمل مكرر",
        ("A lead with this phone already came from {source_type} (lead {existing_lead_id}).",
         "وصل عميل محتمل بهذا الرقم من المصدر {source_type} من قبل (العميل المحتمل {existing_lead_id})."),
        ("A lead with this phone already came from this source.", "وصل عميل محتمل بهذا الرقم من هذا المصدر من قبل.")),
    "follow_up_conflict": _e(
        "Follow-up slot taken", "موعد المتابعة محجوز",
        ("The agent already has a follow-up at {requested_at}; the next free slot is {next_free_slot}.",
         "لدى الوكيل متابعة أخرى في {requested_at}؛ أقرب موعد متاح هو {next_free_slot}."),
        ("The agent already has a follow-up at {requested_at}.", "لدى الوكيل متابعة أخرى في {requested_at}."),
        ("The agent already has a follow-up in that slot.", "لدى الوكيل متابعة أخرى في هذا الموعد.")),
    "follow_up_in_past": _e(
        "Follow-up in the past", "موعد متابعة في الماضي",
        ("A follow-up cannot be scheduled in the past ({requested_at}).",
         "لا يمكن جدولة متابعة في الماضي ({requested_at})."),
        ("A follow-up cannot be scheduled in the past.", "لا يمكن جدولة متابعة في الماضي.")),
    "follow_up_task_closed": _e(
        "Follow-up closed", "المتابعة مغلقة",
        ("Follow-up {task_id} is {status} and cannot be changed.", "المتابعة {task_id} {status} ولا يمكن تغييرها."),
        ("The follow-up is closed and cannot be changed.", "المتابعة مغلقة ولا يمكن تغييرها.")),
    "follow_up_too_far": _e(
        "Follow-up too far ahead", "موعد المتابعة بعيد جداً",
        ("A follow-up may be booked up to {latest} at the latest.", "يمكن حجز المتابعة حتى {latest} كحد أقصى."),
        ("The follow-up is too far ahead.", "موعد المتابعة أبعد من المسموح.")),
    "forbidden": _e(
        "Forbidden", "غير مسموح",
        Detail("An agent key sees its own agent's data only.", "مفتاح الوكيل يطّلع على بيانات وكيله فقط.",
               {"scope": "own"}),
        ("An API key with the role {role} may not {action}.", "مفتاح API بدور {role} لا يملك صلاحية {action}."),
        ("You may not do this.", "لا تملك صلاحية القيام بهذا.")),
    "function_layer_missing": _e(
        "Database functions missing", "وظائف قاعدة البيانات غير مثبتة",
        ("The database does not have the functions this release calls (rolled back, or not migrated); run "
         "`crmctl migrate` of the matching release.",
         "قاعدة البيانات لا تحتوي على الوظائف التي يستدعيها هذا الإصدار (تم التراجع عنها أو لم تُطبَّق الترحيلات)؛ "
         "شغّل crmctl migrate للإصدار المطابق.")),
    "idempotency_key_reused": _e(
        "Idempotency key reused", "مفتاح منع التكرار مستخدم",
        ("The Idempotency-Key was first used for a different request (lead {lead_id}).",
         "استُخدم مفتاح Idempotency-Key أولاً لطلب مختلف (العميل المحتمل {lead_id})."),
        ("The Idempotency-Key was first used for a different request.",
         "استُخدم مفتاح Idempotency-Key أولاً لطلب مختلف.")),
    "invalid_dashboard_filter": _e(
        "Invalid dashboard filter", "مرشّح لوحة معلومات غير صالح",
        ("A dashboard filter value is not valid.", "قيمة أحد مرشحات لوحة المعلومات غير صالحة.")),
    "lead_already_assigned": _e(
        "Lead already assigned", "العميل المحتمل مُسنَد مسبقاً",
        ("Lead {lead_id} already has an agent.", "العميل المحتمل {lead_id} لديه وكيل بالفعل."),
        ("The lead already has an agent.", "العميل المحتمل لديه وكيل بالفعل.")),
    "lead_assignments_immutable": _e(
        "Assignment cannot change", "لا يمكن تعديل الإسناد",
        ("Assignment {assignment_id} can only be released once; reassign by opening a new row.",
         "لا يمكن تحرير الإسناد {assignment_id} إلا مرة واحدة؛ أعد الإسناد بفتح سجل جديد."),
        ("An assignment can only be released once.", "لا يمكن تحرير الإسناد إلا مرة واحدة.")),
    "lead_closed": _e(
        "Lead closed", "العميل المحتمل مغلق",
        ("Lead {lead_id} is closed ({status}).", "العميل المحتمل {lead_id} مغلق ({status})."),
        ("Lead {lead_id} is closed.", "العميل المحتمل {lead_id} مغلق."),
        ("The lead is closed.", "العميل المحتمل مغلق.")),
    "lead_has_no_agent": _e(
        "Lead has no agent", "العميل المحتمل بلا وكيل",
        ("Lead {lead_id} is waiting for an agent; nobody can log an activity on it yet.",
         "العميل المحتمل {lead_id} ينتظر وكيلاً؛ لا يمكن لأحد تسجيل نشاط عليه بعد."),
        ("The lead is waiting for an agent.", "العميل المحتمل ينتظر وكيلاً.")),
    "lead_initial_status": _e(
        "Wrong initial status", "حالة ابتدائية خاطئة",
        ("A lead starts as new, not {status}.", "يبدأ العميل المحتمل بالحالة «جديد»، لا «{status}»."),
        ("A lead starts as new.", "يبدأ العميل المحتمل بالحالة «جديد».")),
    "lead_not_found": _e(
        "Lead not found", "العميل المحتمل غير موجود",
        ("Lead {lead_id} does not exist.", "العميل المحتمل {lead_id} غير موجود."),
        ("The lead does not exist.", "العميل المحتمل غير موجود.")),
    "lead_status_transition": _e(
        "Status change not allowed", "تغيير الحالة غير مسموح",
        ("Cannot move lead from {from} to {to}.", "لا يمكن نقل العميل المحتمل من الحالة «{from}» إلى «{to}»."),
        ("This status change is not allowed.", "تغيير الحالة هذا غير مسموح.")),
    "lead_unassigned": _e(
        "Lead not assigned", "العميل المحتمل غير مُسنَد",
        ("Lead {lead_id} has no agent yet; its status cannot move.",
         "العميل المحتمل {lead_id} ليس لديه وكيل بعد؛ لا يمكن تغيير حالته."),
        ("The lead has no agent yet; its status cannot move.",
         "العميل المحتمل ليس لديه وكيل بعد؛ لا يمكن تغيير حالته.")),
    "leads_score_frozen": _e(
        "Score frozen", "التقييم مجمّد",
        ("Lead {lead_id} is {status} and its score is frozen.",
         "العميل المحتمل {lead_id} بحالة «{status}» وتقييمه مجمّد."),
        ("The lead is closed and its score is frozen.", "العميل المحتمل مغلق وتقييمه مجمّد.")),
    "no_agent_available": _e(
        "No agent available", "لا يوجد وكيل متاح",
        ("No other agent has free capacity for lead {lead_id}.",
         "لا يوجد وكيل آخر لديه سعة متاحة للعميل المحتمل {lead_id}."),
        ("No other agent has free capacity.", "لا يوجد وكيل آخر لديه سعة متاحة.")),
    "report_not_found": _e(
        "Report not found", "التقرير غير موجود",
        ("No report is named {report}; GET /api/v1/analytics lists them.",
         "لا يوجد تقرير باسم {report}؛ تجد قائمة التقارير في GET /api/v1/analytics."),
        ("No report has this name; GET /api/v1/analytics lists them.",
         "لا يوجد تقرير بهذا الاسم؛ تجد قائمة التقارير في GET /api/v1/analytics.")),
    "same_agent": _e(
        "Same agent", "الوكيل نفسه",
        ("Lead {lead_id} is already with agent {agent_id}.",
         "العميل المحتمل {lead_id} مُسنَد بالفعل إلى الوكيل {agent_id}."),
        ("The lead is already with this agent.", "العميل المحتمل مُسنَد بالفعل إلى هذا الوكيل.")),
    "setting_invalid": _e(
        "Setting unusable", "إعداد غير صالح",
        ("The business-hours setting cannot hold any time: a deployment fault, not the request's.",
         "إعداد ساعات العمل لا يتسع لأي موعد: خلل في الإعداد، لا في الطلب.")),
    "setting_missing": _e(
        "Setting missing", "إعداد مفقود",
        ("The setting {setting} is missing: a deployment fault, not the request's.",
         "الإعداد {setting} مفقود: خلل في الإعداد، لا في الطلب."),
        ("A setting is missing: a deployment fault, not the request's.",
         "أحد الإعدادات مفقود: خلل في الإعداد، لا في الطلب.")),
    "source_inactive": _e(
        "Source not accepting leads", "المصدر لا يستقبل عملاء",
        ("The source {source_type} is not accepting leads.", "المصدر {source_type} لا يستقبل عملاء محتملين حالياً."),
        ("The source is not accepting leads.", "المصدر لا يستقبل عملاء محتملين حالياً.")),
    "sweep_clock_ahead": _e(
        "Sweep clock ahead", "ساعة المسح متقدمة",
        ("A sweep at that clock would write the future into the live data; rehearse it instead.",
         "المسح الدوري بهذا التوقيت سيكتب المستقبل في البيانات الحية؛ جرّبه دون حفظ بدلاً من ذلك.")),
    "unknown_property": _e(
        "Unknown listing", "عقار غير معروف",
        ("Listing {property_id} does not exist.", "العقار {property_id} غير موجود."),
        ("The listing does not exist.", "العقار غير موجود.")),
    "unknown_source": _e(
        "Unknown source", "مصدر غير معروف",
        ("Unknown source_type {source_type}.", "مصدر غير معروف: {source_type}."),
        ("The source is unknown.", "المصدر غير معروف.")),
    # -- raised by main's newer releases (issue 19 and the REST resources): entries without parameters until their
    # DETAIL members are known here, so the catalogue holds through a merge
    "agent_leads_unplaced": _e(
        "Leads left without an agent", "عملاء محتملون بلا وكيل",
        ("This change would leave some of the agent's leads with nobody to take them; nothing changed.",
         "هذا التغيير سيترك بعض العملاء المحتملين للوكيل دون من يتسلّمهم؛ لم يتغير شيء.")),
    "capacity_below_workload": _e(
        "Capacity below workload", "السعة أقل من عبء العمل",
        ("The agent's capacity cannot be set below the leads the agent holds now.",
         "لا يمكن جعل سعة الوكيل أقل من عدد العملاء المحتملين الذين لديه الآن.")),
    "follow_up_not_found": _e(
        "Follow-up not found", "المتابعة غير موجودة",
        ("The follow-up does not exist.", "المتابعة غير موجودة.")),
    "invalid_cursor": _e(
        "Invalid cursor", "مؤشر صفحة غير صالح",
        ("The cursor is not one this list handed out for these filters.",
         "مؤشر الصفحة هذا لم يصدر عن هذه القائمة بهذه المرشحات.")),
    "invalid_filter": _e(
        "Invalid filter", "مرشّح غير صالح",
        ("A filter value is not of the kind its filter takes.", "قيمة أحد المرشحات ليست من النوع الذي يقبله.")),
    "invalid_report_parameter": _e(
        "Invalid report parameter", "معامل تقرير غير صالح",
        ("A parameter of the report is not one it takes.", "أحد معاملات التقرير غير مقبول لهذا التقرير.")),
    "invalid_sort": _e(
        "Invalid sort", "ترتيب غير صالح",
        ("The list cannot be sorted this way.", "لا يمكن ترتيب القائمة بهذه الطريقة.")),
    "lead_version_mismatch": _e(
        "Lead changed meanwhile", "تغيّر العميل المحتمل في الأثناء",
        ("The lead changed since the version you sent; read it again and retry.",
         "تغيّر العميل المحتمل منذ النسخة التي أرسلتها؛ اقرأه مجدداً ثم أعد المحاولة.")),
    "precondition_required": _e(
        "Precondition required", "الشرط المسبق مطلوب",
        ("This change needs the version of the lead it was made on (If-Match).",
         "يحتاج هذا التغيير إلى نسخة العميل المحتمل التي بُني عليها (If-Match).")),
    "scoring_rule_not_found": _e(
        "Scoring rule not found", "قاعدة التقييم غير موجودة",
        ("The scoring rule does not exist.", "قاعدة التقييم غير موجودة.")),
    "no_open_offer": _e(
        "No open offer", "لا يوجد عرض مفتوح",
        ("Lead {lead_id} has no open offer: it was accepted, moved on, or is in the pond.",
         "لا يوجد عرض مفتوح للعميل المحتمل {lead_id}: قُبل أو انتقل أو هو في المجمّع."),
        ("The lead has no open offer.", "لا يوجد عرض مفتوح لهذا العميل المحتمل.")),
    "offer_expired": _e(
        "Offer expired", "انتهت مهلة العرض",
        ("The offer of lead {lead_id} expired at {respond_by}; it moves to the next agent.",
         "انتهت مهلة عرض العميل المحتمل {lead_id} في {respond_by}؛ سينتقل إلى الوكيل التالي."),
        ("The offer expired; it moves to the next agent.", "انتهت مهلة العرض؛ سينتقل إلى الوكيل التالي.")),
    "lead_already_claimed": _e(
        "Lead already claimed", "تمت المطالبة بالعميل المحتمل",
        ("Lead {lead_id} is not in the pond: another agent claimed it first.",
         "العميل المحتمل {lead_id} ليس في المجمّع: طالب به وكيل آخر أولاً."),
        ("The lead is not in the pond.", "العميل المحتمل ليس في المجمّع.")),
    "claim_cap_reached": _e(
        "Daily claim cap reached", "بلغت الحد اليومي للمطالبات",
        ("You claimed {claimed_today} leads today, the daily cap.",
         "طالبت اليوم بـ {claimed_today} عملاء محتملين، وهو الحد اليومي."),
        ("You reached today's cap of claims from the pond.", "بلغت الحد اليومي للمطالبة من المجمّع.")),
    "pause_out_of_range": _e(
        "Pause out of range", "استراحة خارج النطاق",
        ("A pause ends after now and within {max_pause}.", "يجب أن تنتهي الاستراحة بعد الآن وخلال {max_pause}."),
        ("A pause ends after now and within the longest pause allowed.",
         "يجب أن تنتهي الاستراحة بعد الآن وخلال أطول مدة مسموحة.")),
    "schedule_overlap": _e(
        "Overlapping working hours", "ساعات عمل متداخلة",
        ("Two working ranges of one day overlap ({field}).", "فترتا عمل في اليوم نفسه متداخلتان ({field})."),
        ("Two working ranges of one day overlap.", "فترتا عمل في اليوم نفسه متداخلتان.")),
    "setting_not_found": _e(
        "Setting not found", "الإعداد غير موجود",
        ("The setting does not exist.", "الإعداد غير موجود.")),
    "setting_shape": _e(
        "Setting of the wrong shape", "إعداد بشكل خاطئ",
        ("The setting's value does not have the shape the setting takes.", "قيمة الإعداد ليست بالشكل الذي يقبله.")),
    "unknown_area": _e(
        "Unknown area", "منطقة غير معروفة",
        ("The area is not one we know.", "المنطقة غير معروفة لدينا.")),
    "unknown_language": _e(
        "Unknown language", "لغة غير معروفة",
        ("The language is not one we know.", "اللغة غير معروفة لدينا.")),
    "unknown_nationality": _e(
        "Unknown nationality", "جنسية غير معروفة",
        ("The nationality is not one we know.", "الجنسية غير معروفة لدينا.")),
    "unknown_topic": _e(
        "Unknown event topic", "موضوع حدث غير معروف",
        ("A topic is not one we send; GET /api/v1/webhooks/topics lists them.",
         "أحد المواضيع ليس مما نرسله؛ القائمة في GET /api/v1/webhooks/topics.")),
    "webhook_agent_unknown": _e(
        "Unknown agent", "وكيل غير معروف",
        ("Agent {agent_id} does not exist.", "الوكيل {agent_id} غير موجود."),
        ("The agent of the subscription does not exist.", "الوكيل المحدد في الاشتراك غير موجود.")),
    "webhook_delivery_not_found": _e(
        "Delivery not found", "عملية التسليم غير موجودة",
        ("Webhook {webhook_id} has no delivery {delivery_id}.",
         "لا توجد عملية تسليم {delivery_id} للاشتراك {webhook_id}."),
        ("The delivery does not exist.", "عملية التسليم غير موجودة.")),
    "webhook_inactive": _e(
        "Subscription disabled", "الاشتراك معطّل",
        ("Webhook {webhook_id} is disabled; enable it (PATCH is_active true) first.",
         "الاشتراك {webhook_id} معطّل؛ فعّله أولاً (PATCH is_active true)."),
        ("The subscription is disabled; enable it first.", "الاشتراك معطّل؛ فعّله أولاً.")),
    "webhook_not_found": _e(
        "Subscription not found", "الاشتراك غير موجود",
        ("Webhook {webhook_id} does not exist.", "الاشتراك {webhook_id} غير موجود."),
        ("The webhook subscription does not exist.", "اشتراك الإشعارات غير موجود.")),
    "webhook_url_refused": _e(
        "Webhook address refused", "عنوان الإشعارات مرفوض",
        ("The url is refused: {reason}.", "العنوان مرفوض: {reason}."),
        ("The url points at a loopback, private or link-local address, which is not allowed.",
         "العنوان يشير إلى عنوان محلي أو خاص أو ربط محلي، وهذا غير مسموح.")),
    # crm.refuse_change builds <table>_append_only
    "leads_append_only": _APPEND_ONLY,
    "lead_assignments_append_only": _APPEND_ONLY,
    "lead_activities_append_only": _APPEND_ONLY,
    "lead_conversion_history_append_only": _APPEND_ONLY,
    "lead_audit_append_only": _APPEND_ONLY,
    "follow_up_escalations_append_only": _APPEND_ONLY,
    # -- the kinds of a constraint violation (the code is the constraint's name) ---------------------------------------
    "unique_violation": _e(
        "Duplicate record", "سجل مكرر",
        ("This would duplicate an existing record ({name}).", "هذا سيكرر سجلاً موجوداً ({name})."),
        ("This would duplicate an existing record.", "هذا سيكرر سجلاً موجوداً.")),
    "exclusion_violation": _e(
        "Overlapping record", "سجل متداخل",
        ("This overlaps an existing record ({name}).", "هذا يتداخل مع سجل موجود ({name})."),
        ("This overlaps an existing record.", "هذا يتداخل مع سجل موجود.")),
    "check_violation": _e(
        "Rule violated", "مخالفة قاعدة",
        ("A value breaks the rule {name}.", "إحدى القيم تخالف القاعدة {name}."),
        ("A value breaks a rule of the database.", "إحدى القيم تخالف قاعدة من قواعد قاعدة البيانات.")),
    "foreign_key_violation": _e(
        "Unknown reference", "مرجع غير معروف",
        ("A referenced record does not exist ({name}).", "السجل المشار إليه غير موجود ({name})."),
        ("A referenced record does not exist.", "السجل المشار إليه غير موجود.")),
    # -- the API's own -------------------------------------------------------------------------------------------------
    "business_rule": _e(
        "Business rule", "قاعدة عمل",
        ("A business rule refused the request.", "رفضت إحدى قواعد العمل الطلب.")),
    "not_null_violation": _e(
        "Required field", "حقل مطلوب",
        ("The field {column} is required.", "الحقل {column} مطلوب."),
        ("A required field is missing.", "أحد الحقول المطلوبة مفقود.")),
    "invalid_value": _e(
        "Invalid value", "قيمة غير صالحة",
        Detail("A text is longer than its field allows.", "نص أطول مما يسمح به حقله.", {"sqlstate": "22001"}),
        Detail("A number is out of range.", "رقم خارج النطاق المسموح.", {"sqlstate": "22003"}),
        Detail("A date or time is malformed.", "تاريخ أو وقت بصيغة خاطئة.", {"sqlstate": "22007"}),
        Detail("A date or time is out of range.", "تاريخ أو وقت خارج النطاق المسموح.", {"sqlstate": "22008"}),
        Detail("A text holds a byte sequence that is not valid UTF-8.", "نص يحتوي على تسلسل بايتات ليس UTF-8 صالحاً.",
               {"sqlstate": "22021"}),
        Detail("A value does not have the format its field needs.", "قيمة لا تطابق الصيغة التي يحتاجها حقلها.",
               {"sqlstate": "22P02"}),
        Detail("A text holds a character the database cannot store (for example an unpaired surrogate).",
               "نص يحتوي على حرف لا تستطيع قاعدة البيانات تخزينه (مثل بديل غير مقترن).", {"sqlstate": "22P05"}),
        ("A value is not valid for its field.", "قيمة غير صالحة لحقلها.")),
    "concurrent_update": _e(
        "Concurrent update", "تعارض مع طلب متزامن",
        ("The request collided with another; retry it.", "تعارض الطلب مع طلب آخر؛ أعد المحاولة.")),
    "service_unavailable": _e(
        "Service unavailable", "الخدمة غير متاحة",
        Detail("The reporting replica is not reachable right now; retry shortly.",
               "نسخة التقارير المتماثلة غير متاحة حالياً؛ أعد المحاولة بعد قليل.", {"database": "reporting"}),
        ("The database is not reachable right now; retry shortly.",
         "قاعدة البيانات غير متاحة حالياً؛ أعد المحاولة بعد قليل.")),
    "internal_error": _e(
        "Internal server error", "خطأ داخلي في الخادم",
        ("Something went wrong on our side; it has been logged.", "حدث خطأ من جهتنا وتم تسجيله.")),
    "not_ready": _e(
        "Not ready", "غير جاهز",
        Detail("The database does not have the functions this release calls.",
               "قاعدة البيانات لا تحتوي على الوظائف التي يستدعيها هذا الإصدار.", {"cause": "function_layer_missing"}),
        ("The database is not reachable.", "قاعدة البيانات غير متاحة.")),
    "invalid_json": _e(
        "Invalid JSON", "JSON غير صالح",
        Detail("The body nests arrays and objects too deeply.", "يتداخل نص الطلب بعمق زائد في المصفوفات والكائنات.",
               {"reason": "depth"}),
        Detail("The body could not be read as JSON (its encoding or its nesting).",
               "تعذّرت قراءة نص الطلب بصيغة JSON (بسبب ترميزه أو تداخله).", {"reason": "unreadable"}),
        ("The body is not valid JSON.", "نص الطلب ليس JSON صالحاً.")),
    "validation_error": _e(
        "Validation error", "خطأ في التحقق",
        ("{field}: {reason}{more}", "{field}: {reason}{more}"),
        ("A value of the request is not valid.", "إحدى قيم الطلب غير صالحة.")),
    "payload_too_large": _e(
        "Payload too large", "حجم الطلب كبير جداً",
        ("A request body may be at most {limit} bytes.", "يجب ألا يتجاوز حجم نص الطلب {limit} بايت."),
        ("The request body is too large.", "نص الطلب كبير جداً.")),
    "unsupported_media_type": _e(
        "Unsupported media type", "نوع محتوى غير مدعوم",
        ("Send the body as JSON (Content-Type: application/json).",
         "أرسل نص الطلب بصيغة JSON (Content-Type: application/json).")),
    "dead_letter_unreadable": _e(
        "Dead letter not JSON", "السجل ليس بصيغة JSON",
        ("This dead letter was not JSON; send a corrected body to replay it.",
         "سجل الالتقاط الفاشل هذا ليس بصيغة JSON؛ أرسل نصاً مصححاً لإعادة معالجته.")),
    "not_found": _e(
        "Not found", "غير موجود",
        ("Nothing is at this path.", "لا يوجد شيء على هذا المسار.")),
    "method_not_allowed": _e(
        "Method not allowed", "الطريقة غير مسموحة",
        ("This path does not take this method.", "هذا المسار لا يقبل هذه الطريقة.")),
}

# answers without an entry of their own (a Starlette http_<status>): the HTTP status's words
HTTP_TITLES: dict[int, tuple[str, str]] = {
    400: ("Bad request", "طلب غير صالح"), 401: ("Unauthorized", "غير مصرّح"), 403: ("Forbidden", "غير مسموح"),
    404: ("Not found", "غير موجود"), 405: ("Method not allowed", "الطريقة غير مسموحة"),
    409: ("Conflict", "تعارض"), 412: ("Precondition failed", "فشل الشرط المسبق"),
    413: ("Payload too large", "حجم الطلب كبير جداً"), 428: ("Precondition required", "الشرط المسبق مطلوب"),
    415: ("Unsupported media type", "نوع محتوى غير مدعوم"), 422: ("Unprocessable content", "محتوى غير قابل للمعالجة"),
    429: ("Too many requests", "طلبات كثيرة جداً"), 500: ("Internal server error", "خطأ داخلي في الخادم"),
    503: ("Service unavailable", "الخدمة غير متاحة"),
}

# parameter values named in Arabic in Arabic details: pipeline and follow-up statuses, key roles, actions
_STATUS_AR = {"new": "جديد", "contacted": "تم التواصل", "qualified": "مؤهل", "viewing_scheduled": "معاينة مجدولة",
              "negotiation": "تفاوض", "converted": "تم التحويل", "conversion": "تم التحويل", "lost": "مفقود",
              "open": "مفتوحة", "done": "منجزة", "cancelled": "ملغاة"}
VALUES_AR: dict[str, dict[str, str]] = {
    "status": _STATUS_AR, "from": _STATUS_AR, "to": _STATUS_AR,
    "role": {"integration": "التكامل", "agent": "الوكيل", "supervisor": "المشرف", "admin": "المسؤول"},
    "action": {"capture": "التقاط العملاء المحتملين", "update_lead": "تحديث العميل المحتمل",
               "dashboard": "عرض لوحة المعلومات", "reassign_lead": "إعادة إسناد العميل المحتمل",
               "analytics": "قراءة التقارير", "dead_letters": "إدارة سجلات الالتقاط الفاشل"},
    "operation": {"update": "التعديل", "delete": "الحذف", "truncate": "التفريغ", "insert": "الإدراج"},
}

# pydantic's error types, and our validators' own sentences, in Arabic (the field is named beside them)
VALIDATION_AR: dict[str, str] = {
    "missing": "الحقل مطلوب", "extra_forbidden": "حقل غير متوقع", "string_type": "يجب أن تكون القيمة نصاً",
    "string_too_short": "النص أقصر من المسموح", "string_too_long": "النص أطول من المسموح",
    "string_pattern_mismatch": "النص لا يطابق الصيغة المطلوبة", "int_type": "يجب أن تكون القيمة عدداً صحيحاً",
    "int_parsing": "يجب أن تكون القيمة عدداً صحيحاً", "float_type": "يجب أن تكون القيمة رقماً",
    "float_parsing": "يجب أن تكون القيمة رقماً", "decimal_type": "يجب أن تكون القيمة رقماً",
    "decimal_parsing": "يجب أن تكون القيمة رقماً", "bool_type": "يجب أن تكون القيمة true أو false",
    "bool_parsing": "يجب أن تكون القيمة true أو false", "greater_than": "القيمة أصغر من المسموح",
    "greater_than_equal": "القيمة أصغر من المسموح", "less_than": "القيمة أكبر من المسموح",
    "less_than_equal": "القيمة أكبر من المسموح", "literal_error": "القيمة ليست من القيم المسموح بها",
    "enum": "القيمة ليست من القيم المسموح بها", "uuid_type": "يجب أن تكون القيمة معرّف UUID",
    "uuid_parsing": "يجب أن تكون القيمة معرّف UUID صالحاً", "datetime_type": "يجب أن تكون القيمة تاريخاً ووقتاً",
    "datetime_parsing": "تاريخ ووقت بصيغة خاطئة", "datetime_from_date_parsing": "تاريخ ووقت بصيغة خاطئة",
    "timezone_aware": "يجب أن يتضمن الوقت منطقته الزمنية", "date_type": "يجب أن تكون القيمة تاريخاً",
    "date_parsing": "تاريخ بصيغة خاطئة", "date_from_datetime_parsing": "تاريخ بصيغة خاطئة",
    "list_type": "يجب أن تكون القيمة قائمة", "dict_type": "يجب أن تكون القيمة كائناً",
    "model_type": "يجب أن تكون القيمة كائناً", "model_attributes_type": "يجب أن تكون القيمة كائناً",
    "too_short": "عدد العناصر أقل من المسموح", "too_long": "عدد العناصر أكثر من المسموح",
    "decimal_max_digits": "عدد الأرقام أكثر من المسموح", "decimal_max_places": "عدد المنازل العشرية أكثر من المسموح",
    "finite_number": "يجب أن يكون الرقم محدوداً", "json_invalid": "JSON غير صالح",
    "url_parsing": "رابط بصيغة خاطئة", "url_type": "يجب أن تكون القيمة رابطاً",
}
VALUE_ERRORS_AR: dict[str, str] = {
    "not a phone number": "ليس رقم هاتف",
    "not a valid phone number": "ليس رقم هاتف صالحاً",
    "must not contain control characters": "يجب ألا يحتوي على محارف تحكم",
    "must not be blank": "يجب ألا يكون فارغاً",
    "budget_min must not be greater than budget_max": "يجب ألا تكون budget_min أكبر من budget_max",
    "nothing to update: send status, activity or property_interests":
        "لا شيء للتحديث: أرسل status أو activity أو property_interests",
    "lost_reason is required with status lost, and only then": "الحقل lost_reason مطلوب مع الحالة lost فقط",
    "deal_value goes with status converted (or conversion)": "الحقل deal_value يُرسل مع الحالة converted فقط",
    "each property_id may appear once": "يجب أن يظهر كل property_id مرة واحدة",
    "a custom date_range needs date_from and date_to": "النطاق المخصص يحتاج date_from و date_to",
    "date_from must not be after date_to": "يجب ألا يكون date_from بعد date_to",
    "date_from and date_to go with date_range=custom": "الحقلان date_from و date_to يُرسلان مع date_range=custom فقط",
}
_VALUE_ERROR_PREFIX = "Value error, "
_SPAN_DAYS = re.compile(r"^a custom range spans at most (\d+) days$")


def validation_reason(error: Mapping[str, Any]) -> dict[str, str]:
    """One pydantic error's message in both languages: ours translated by its sentence, pydantic's by its type."""
    msg = str(error.get("msg", ""))
    kind = str(error.get("type", ""))
    english = msg[len(_VALUE_ERROR_PREFIX):] if msg.startswith(_VALUE_ERROR_PREFIX) else msg
    arabic = VALUE_ERRORS_AR.get(english)
    if arabic is None and (span := _SPAN_DAYS.match(english)):
        arabic = f"يمتد النطاق المخصص {span.group(1)} يوماً على الأكثر"
    if arabic is None and kind == "value_error" and "email" in english:
        arabic = "ليس عنوان بريد إلكتروني صالحاً"
    return {"en": msg, "ar": arabic or VALIDATION_AR.get(kind, "القيمة غير صالحة")}


def negotiate(accept_language: str | None) -> str:
    """The language of a problem body from an Accept-Language header (RFC 9110 12.5.4): the highest q-value among
    en and ar (any region: ar-AE, ar-SA, ...); on a tie the header's order; English when neither is named, for `*`,
    and for a header that cannot be read."""
    best, best_q = DEFAULT_LANGUAGE, 0.0
    for item in (accept_language or "")[:500].split(","):
        tag, _, params = item.strip().partition(";")
        primary = tag.strip().lower().split("-", 1)[0]
        if primary not in LANGUAGES:
            continue
        q = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        if 0 < q <= 1 and q > best_q:
            best, best_q = primary, q
    return best


def entry_for(code: str, kind: str | None = None) -> Entry | None:
    return CATALOGUE.get(code) or (CATALOGUE.get(kind) if kind else None)


def _value(params: Mapping[str, Any], name: str, language: str) -> str | None:
    value = params.get(name)
    if isinstance(value, Mapping):  # a parameter given in both languages
        value = value.get(language, value.get(DEFAULT_LANGUAGE))
    if value is None:
        return None
    text = str(value)
    if language == "ar":
        words = VALUES_AR.get(name, {})
        text = words.get(text, words.get(text.lower(), text))
    return text


def _fill(template: str, values: Mapping[str, str]) -> str:
    return _PLACEHOLDER.sub(lambda m: values[m.group(1)], template)


def render(entry: Entry, language: str, params: Mapping[str, Any]) -> str | None:
    """The detail of the first variant that fits these parameters, in `language`; None when none fits."""
    for variant in entry.details:
        if any(str(params.get(k)) != v for k, v in variant.when.items()):
            continue
        names = variant.placeholders(language)
        values = {name: _value(params, name, language) for name in names}
        if all(v is not None for v in values.values()):
            template = variant.ar if language == "ar" else variant.en
            return _fill(template, {k: v for k, v in values.items() if v is not None})
    return None


def title(code: str, kind: str | None, status: int, language: str) -> str:
    entry = entry_for(code, kind)
    if entry is not None:
        return entry.title(language)
    en, ar = HTTP_TITLES.get(status, ("Error", "خطأ"))
    return ar if language == "ar" else en


def detail(code: str, kind: str | None, status: int, language: str, own: str,
           params: Mapping[str, Any]) -> str:
    """The detail of a problem in `language`: in English the problem's own sentence; in Arabic the catalogue's,
    filled with the problem's parameters (its HTTP status's words when the code has no entry)."""
    if language == DEFAULT_LANGUAGE and own:
        return own
    entry = entry_for(code, kind)
    rendered = render(entry, language, params) if entry is not None else None
    if rendered is not None:
        return rendered
    return own if language == DEFAULT_LANGUAGE else title(code, kind, status, language) + "."
