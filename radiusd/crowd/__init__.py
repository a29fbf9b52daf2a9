"""The Crowd-compatible REST directory (/rest/usermanagement/1) for Jira and Confluence."""
