DROP TABLE IF EXISTS crm.follow_up_escalations CASCADE;
DROP TABLE IF EXISTS crm.follow_up_tasks CASCADE;
