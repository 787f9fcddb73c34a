-- label_events as mualign created it before migrations (commit b0897b7, Base.metadata.create_all),
-- compiled for sqlite. Frozen on purpose: tests build a pre-migration store from it.
CREATE TABLE label_events (
	id INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT, 
	project VARCHAR NOT NULL, 
	left_id VARCHAR NOT NULL, 
	right_id VARCHAR NOT NULL, 
	type VARCHAR NOT NULL, 
	decision VARCHAR(16) NOT NULL, 
	analyst VARCHAR NOT NULL, 
	created_at DATETIME NOT NULL, 
	model_version VARCHAR, 
	score FLOAT, 
	note TEXT, 
	undoes_id INTEGER, 
	CONSTRAINT ck_label_events_decision_known CHECK (decision IN ('accept', 'reject', 'skip', 'undo')), 
	CONSTRAINT ck_label_events_analyst_not_blank CHECK (length(trim(analyst)) > 0), 
	CONSTRAINT ck_label_events_undoes_id_only_on_undo CHECK ((decision = 'undo' AND undoes_id IS NOT NULL) OR (decision <> 'undo' AND undoes_id IS NULL)), 
	CONSTRAINT uq_label_events_undoes_id UNIQUE (undoes_id), 
	CONSTRAINT fk_label_events_undoes_id_label_events FOREIGN KEY(undoes_id) REFERENCES label_events (id)
);
CREATE INDEX ix_label_events_project_analyst ON label_events (project, analyst);
CREATE INDEX ix_label_events_project_pair ON label_events (project, left_id, right_id);
