/** Output samples from docs/reference luna-shell.md (verbatim where the reference gives them). */

export const HSM_SHOW_ZEROIZED = `   Appliance Details:
   ==================
   Software Version:                7.2.0-220

   HSM Details:
   ============
   HSM Label:
   Serial #:                           572413
   Firmware:                           7.0.3
   HSM Model:                          Luna K7
   Authentication Method:              Password
   HSM Admin login status:             Not Logged In
   HSM Admin login attempts left:      HSM IS ZEROIZED !!!!
   ...
   Partitions created on HSM:
   ==============================
   There are no partitions.

Command Result : 0 (Success)
`;

export const HSM_SHOW_INITIALIZED = HSM_SHOW_ZEROIZED.replace('HSM Label:', 'HSM Label:                          hsm1')
  .replace('HSM IS ZEROIZED !!!!', '3 before HSM zeroization!')
  .replace('   There are no partitions.', '   Partition: 1582775433934, Name: par0');

export const FAILURE = `Error:  'client show' failed. (C000040A : RC_OBJECT_NOT_IN_LIST)

Error:  Specified client does not exist.


Command Result : 65535 (Luna Shell execution)
`;

export const PARTITION_LIST = `                                                            Partition    ----------------------------------
Partition            Name                              Version      Objects  Total     Used     Free
===================  ================================  ===========  =======  =======  =======  =======
1582775433934        par0                              0                  0   648381        0   648381
`;

export const CLIENT_LIST = `registered client 1: app-a
registered client 2: app-b

Command Result : 0 (Success)
`;

export const CLIENT_LIST_NONE = `No clients are registered.`;

export const CLIENT_SHOW = `ClientID:     app-a
Hostname:     app-a.example.internal
Partitions:   "par0", "par1"
`;

export const CLIENT_SHOW_NONE = `ClientID:     app-b
Hostname:     app-b.example.internal
Partitions:   <none>
`;

export const FINGERPRINT_16 = `Certificate fingerprint: D9:9E:25:B3:A9:68:06:50:8F:C4:90:FC:E5:50:E2:BC`;
export const FINGERPRINT_20 = `Certificate fingerprint: D9:9E:25:B3:A9:68:06:50:8F:C4:90:FC:E5:50:E2:BC:01:02:03:04\n\nCommand Result : 0 (Success)\n`;
export const FINGERPRINT_32 = `Certificate fingerprint: ${Array.from({ length: 32 }, (_, i) => (i * 7).toString(16).padStart(2, '0').toUpperCase()).join(':')}`;

export const REGISTER_OK = `'client register' successful.

Command Result : 0 (Success)
`;

export const ASSIGN_ALREADY = `Error:  'client assignPartition' failed. (C0000405 : RC_ALREADY_ASSIGNED)

Error:  The client already has access to the specified partition.


Command Result : 65535 (Luna Shell execution)
`;

export const REVOKE_NOT_ASSIGNED = `Error:  Specified partition was not assigned to client

Command Result : 65535 (Luna Shell execution)
`;

export const NTLS_SHOW = `NTLS bound to network device: eth0  IP Address: "10.0.2.4" (eth0)

Command Result : 0 (Success)
`;

export const PACKAGE_TABLE = `Package Name                              Version          Release
========================================  ===============  ========
lunasa                                    7.2.0            220
lunasa-reboot-patch-3                     1.0.0            1

Command Result : 0 (Success)
`;

export const PACKAGE_RPM = `Installed packages:

   lunasa-7.2.0-220.x86_64
   lunasa-reboot-patch-3-1.0-1.noarch
`;

export const LISTGROUPS = `                  HA auto recovery:  enabled
                  HA recovery mode:  activeEnhanced
       Maximum auto recovery retry:  500
       Auto recovery poll interval:  60 seconds
                        HA logging:  disabled
                Only Show HA Slots:  yes

             HA Group Label:  myHAgroup
            HA Group Number:  1154438865287
           HA Group Slot ID:  5
           Synchronization:  enabled
              Group Members:  154438865287, 1238700701509
                 Needs sync:  no
            Standby Members:  <none>

    Slot #    Member S/N                      Member Label    Status
    ======    ==========                      ============    ======
    ------  154438865287                              par0     alive
    ------  1238700701509                      ------------      down
`;

export const CLONING_WARNING = 'Warning: Synchronize may fail.  The members in slot 0 and slot 1 have conflicting settings for private key cloning.';

export const LUNACM_OK = `HA auto recovery retry count set to 5.

Command Result : No Error
`;

export const LUNACM_PIN_INCORRECT = `
\tError: Login to partition 154438865287 failed.

Command Result : 0x000000a0 (CKR_PIN_INCORRECT)
`;

export const BANNER = 'Luna Network HSM Command Line Shell v7.2.0-220. Copyright (c) 2018 SafeNet. All rights reserved.\n\n';

export const ALL_SAMPLES: Record<string, string> = {
  HSM_SHOW_ZEROIZED,
  HSM_SHOW_INITIALIZED,
  FAILURE,
  PARTITION_LIST,
  CLIENT_LIST,
  CLIENT_LIST_NONE,
  CLIENT_SHOW,
  CLIENT_SHOW_NONE,
  FINGERPRINT_16,
  FINGERPRINT_20,
  FINGERPRINT_32,
  REGISTER_OK,
  ASSIGN_ALREADY,
  REVOKE_NOT_ASSIGNED,
  NTLS_SHOW,
  PACKAGE_TABLE,
  PACKAGE_RPM,
  LISTGROUPS,
  LISTGROUPS_WARNING: `${LISTGROUPS}\n${CLONING_WARNING}\n\nCommand Result : No Error\n`,
  LUNACM_OK,
  LUNACM_PIN_INCORRECT,
};
