-- Effects of a new activity on its lead: last activity time, the lead's first contact (its time to first contact),
-- and the first activity of the current assignment (the agent's response time, and the 24-hour no-response rule).

CREATE OR REPLACE FUNCTION crm.is_agent_interaction(p_type crm.activity_type)
RETURNS boolean
LANGUAGE sql
IMMUTABLE
SET search_path = ''
AS $$
    SELECT p_type IN ('call', 'email', 'whatsapp', 'sms', 'viewing', 'meeting', 'offer_made')
$$;
COMMENT ON FUNCTION crm.is_agent_interaction(crm.activity_type) IS
    'True for the activity types that are an agent talking to the client (the brief''s list and sms); false for '
    'system events.';

-- crm.is_outbound_contact(type): the interactions that reach out to the client (call, whatsapp, sms, email); the
-- first one by the agent holding an offer accepts it.
CREATE OR REPLACE FUNCTION crm.is_outbound_contact(p_type crm.activity_type)
RETURNS boolean
LANGUAGE sql
IMMUTABLE
SET search_path = ''
AS $$
    SELECT p_type IN ('call', 'whatsapp', 'sms', 'email')
$$;
COMMENT ON FUNCTION crm.is_outbound_contact(crm.activity_type) IS
    'True for call, whatsapp, sms and email: an outbound contact, which also accepts the agent''s open offer.';

-- BEFORE INSERT ON crm.lead_activities: stamp the actor.
CREATE OR REPLACE FUNCTION crm.lead_activities_stamp()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = ''
AS $$
BEGIN
    NEW.created_by := crm.actor();
    NEW.created_at := now();
    RETURN NEW;
END
$$;
COMMENT ON FUNCTION crm.lead_activities_stamp() IS 'Trigger: created_at and created_by of an activity are set by the database, never by the caller.';

CREATE OR REPLACE TRIGGER lead_activities_10_stamp BEFORE INSERT ON crm.lead_activities
    FOR EACH ROW EXECUTE FUNCTION crm.lead_activities_stamp();

-- AFTER INSERT ON crm.lead_activities.
CREATE OR REPLACE FUNCTION crm.lead_activities_apply()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = ''
AS $$
DECLARE
    v_interaction boolean := NEW.agent_id IS NOT NULL AND crm.is_agent_interaction(NEW.activity_type);
    v_bookkeeping boolean := NEW.activity_type IN ('assignment', 'escalation', 'score_change');
    v_outbound    boolean := NEW.agent_id IS NOT NULL AND crm.is_outbound_contact(NEW.activity_type);
BEGIN
    IF v_bookkeeping THEN
        RETURN NULL;   -- the system's own records are not activity on the lead (silence goes on)
    END IF;
    -- the first contact is the earliest interaction, also when one is logged later with an earlier time (the
    -- invariant first_contact_mismatch holds the lead to it)
    UPDATE crm.leads AS l
       SET last_activity_at = greatest(l.last_activity_at, NEW.occurred_at),
           first_contacted_at = CASE WHEN v_interaction AND (l.first_contacted_at IS NULL
                                                             OR NEW.occurred_at < l.first_contacted_at)
                                     THEN NEW.occurred_at ELSE l.first_contacted_at END,
           response_seconds = CASE WHEN v_interaction AND (l.first_contacted_at IS NULL
                                                           OR NEW.occurred_at < l.first_contacted_at)
                                   THEN greatest(0, extract(epoch FROM NEW.occurred_at - l.created_at))::integer
                                   ELSE l.response_seconds END
     WHERE l.lead_id = NEW.lead_id;

    IF v_interaction THEN   -- the first interaction; an outbound contact also accepts the agent's open offer
        UPDATE crm.lead_assignments AS a
           SET first_activity_at = coalesce(a.first_activity_at, NEW.occurred_at),
               accepted_at = coalesce(a.accepted_at, CASE WHEN v_outbound THEN greatest(a.assigned_at, NEW.occurred_at) END)
         WHERE a.lead_id = NEW.lead_id AND a.agent_id = NEW.agent_id AND a.released_at IS NULL
           AND (a.first_activity_at IS NULL OR (a.accepted_at IS NULL AND v_outbound));
    END IF;
    RETURN NULL;
END
$$;
COMMENT ON FUNCTION crm.lead_activities_apply() IS
    'Trigger: updates the lead''s last_activity_at (any activity but the bookkeeping types assignment, escalation and '
    'score_change), and on its earliest agent interaction its first_contacted_at and response_seconds (time to first '
    'contact); stamps first_activity_at on the agent''s open assignment (from which its response_seconds is generated).';

CREATE OR REPLACE TRIGGER lead_activities_20_apply AFTER INSERT ON crm.lead_activities
    FOR EACH ROW EXECUTE FUNCTION crm.lead_activities_apply();
