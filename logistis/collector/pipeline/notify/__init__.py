"""Notifications: who changed what, told to webhooks, Slack and CloudEvents receivers as it
happens (docs/notifications.md).

The pipeline after the commit: the deriver's pass matches its events against the rules
(`matching`) and queues what is due in the store's outbox in the same transaction; one
`outbox.Dispatcher` per collector claims due items, renders them for their sink (`webhook`,
`slack`, `cloudevents`), posts them (`delivery`) and keeps what became of each. `config` reads
the config file's `notify` section; `command` is `logistis-collector notify`.
"""
