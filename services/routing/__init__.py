"""Routing (后台分类审批、统一窗口出件): department steps, decisions and delivery of the result."""
