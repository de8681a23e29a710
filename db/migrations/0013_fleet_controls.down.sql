DROP TABLE fleet_controls;
