"""SLA: policies as data, the business calendar, clocks, escalation.

Public entry points: ``collector.sla.service.SlaService`` (what the fault lifecycle calls),
``collector.sla.calendar.BusinessCalendar``, ``collector.sla.policies`` (the data model).
"""
